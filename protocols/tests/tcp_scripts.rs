//! Runs the packetdrill-like scripts in `tests/tcp_scripts/` against the sans-IO socket
//! (see `vipe_protocols::tcp::script` for the format), and checks that the runner itself
//! fails scripts whose expectations do not hold.

use std::path::Path;

use vipe_protocols::tcp::script;

fn run_file(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tcp_scripts")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    if let Err(e) = script::run(&text) {
        panic!("{}: {e}", path.display());
    }
}

macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_file(concat!(stringify!($name), ".pkt"));
            }
        )*

        #[test]
        fn every_script_has_a_test() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tcp_scripts");
            let known = [$(concat!(stringify!($name), ".pkt")),*];
            for entry in std::fs::read_dir(dir).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(known.contains(&name.as_str()), "{name} is not listed in tcp_scripts.rs");
            }
        }
    };
}

scripts!(
    passive_open,
    active_open,
    close_active,
    close_passive,
    close_simultaneous,
    close_with_data,
    simultaneous_open,
    retransmit_syn,
    retransmit_data,
    fast_recovery_newreno,
    sack_recovery,
    sack_receiver,
    sack_not_negotiated,
    window_scaling,
    window_scaling_refused,
    paws,
    rfc5961_rst,
    rfc5961_syn,
    rfc5961_ack,
    zero_window,
    delayed_ack,
    nagle_off,
    user_timeout,
    close_unread,
);

#[test]
fn runner_fails_wrong_expectations() {
    // Wrong ack number.
    let e = script::run("0 listen\n0.1 < S 0:0(0) win 1000\n+0 > S. 0:0(0) ack 2\n").unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    // A segment sent but not expected.
    let e = script::run("0 listen\n0.1 < S 0:0(0) win 1000\n+1 < . 1:1(0) ack 1\n").unwrap_err();
    assert!(e.message.contains("unexpected segment"), "{e}");
    // Expected too early.
    let e = script::run("0 connect\n+0 > S 0:0(0)\n+0.5 > S 0:0(0)\n").unwrap_err();
    assert!(
        e.message.contains("none was sent") || e.message.contains("expected at"),
        "{e}"
    );
    // A drop that did not happen.
    let e = script::run("0 listen\n0.1 < S 0:0(0) win 1000 drop\n").unwrap_err();
    assert!(e.message.contains("dropped"), "{e}");
}
