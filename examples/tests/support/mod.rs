//! What the Linux interop tests share: root detection, running a command that must
//! succeed, network namespaces that are deleted when dropped, and putting a TAP device
//! into one as the kernel's side of a link.
#![allow(dead_code)] // each test file uses part of it

use std::process::Command;

/// Whether the tests run as root (TAP devices and namespaces need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        geteuid() == 0
    }
}

unsafe extern "C" {
    fn geteuid() -> u32;
}

/// Runs `args` (program first), which must succeed; returns its standard output.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace, deleted on drop.
pub struct Netns(pub String);

impl Netns {
    /// Creates the namespace `name` (deleting a stale one of that name first).
    pub fn new(name: &str) -> Self {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        sh(&["ip", "netns", "add", name]);
        Netns(name.to_owned())
    }

    /// A command that runs `args` inside the namespace.
    pub fn exec(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).args(args);
        cmd
    }

    /// Runs `args` inside the namespace; it must succeed.
    pub fn run(&self, args: &[&str]) {
        let out = self.exec(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// Moves `tap` into `ns` with `addr`, up, with a default route via `gateway` if given.
pub fn kernel_side(ns: &Netns, tap: &str, addr: &str, gateway: Option<&str>) {
    sh(&["ip", "link", "set", tap, "netns", &ns.0]);
    let mut cmds = vec![
        vec!["ip", "addr", "add", addr, "dev", tap],
        vec!["ip", "link", "set", tap, "up"],
        vec!["ip", "link", "set", "lo", "up"],
    ];
    if let Some(gw) = gateway {
        cmds.push(vec!["ip", "route", "add", "default", "via", gw]);
    }
    for cmd in cmds {
        let out = ns.exec(&cmd).output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
