//! Build script: only with the `ns3` feature, compiles the C++ shim (`ns3-shim/shim.cc`)
//! against an installed ns-3 and links ns-3's shared libraries. Without ns-3 it stops
//! with one message naming the package to install.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "ns3")]
    ns3::build();
}

#[cfg(feature = "ns3")]
mod ns3 {
    use std::env;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// The ns-3 modules the shim uses (each one a shared library).
    const MODULES: &[&str] = &[
        "core",
        "network",
        "csma",
        "point-to-point",
        "internet",
        "applications",
        "traffic-control",
        "bridge",
    ];

    /// Where ns-3 was found.
    struct Ns3 {
        include_dirs: Vec<PathBuf>,
        lib_dir: PathBuf,
        /// Library names to pass to `-l` (e.g. `ns3-core` or `ns3.37-core`), one per module.
        libs: Vec<String>,
    }

    fn find_ns3() -> Result<Ns3, String> {
        let include_dirs = match env::var_os("VIPE_NS3_INCLUDE_DIR") {
            Some(dir) => vec![PathBuf::from(dir)],
            None => pkg_config_includes().unwrap_or_else(|| {
                [
                    "/usr/include",
                    "/usr/include/ns3.37",
                    "/usr/local/include",
                    "/usr/local/include/ns3.37",
                ]
                .iter()
                .map(PathBuf::from)
                .collect()
            }),
        };
        let headers = [
            "ns3/simulator.h",
            "ns3/csma-module.h",
            "ns3/internet-module.h",
        ];
        let Some(include) = include_dirs
            .iter()
            .find(|d| headers.iter().all(|h| d.join(h).is_file()))
        else {
            return Err(format!(
                "headers {} not found in {}",
                headers.join(", "),
                include_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let lib_dirs: Vec<PathBuf> = match env::var_os("VIPE_NS3_LIB_DIR") {
            Some(dir) => vec![PathBuf::from(dir)],
            None => [
                "/usr/lib/x86_64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu",
                "/usr/lib",
                "/usr/local/lib",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
        };
        // Debian names the libraries libns3-<module>.so; upstream installs libns3.37-<module>.so.
        for dir in &lib_dirs {
            for prefix in ["ns3-", "ns3.37-"] {
                let libs: Vec<String> = MODULES.iter().map(|m| format!("{prefix}{m}")).collect();
                if libs.iter().all(|l| has_lib(dir, l)) {
                    return Ok(Ns3 {
                        include_dirs: vec![include.clone()],
                        lib_dir: dir.clone(),
                        libs,
                    });
                }
            }
        }
        Err(format!(
            "shared libraries libns3-{{{}}}.so not found in {}",
            MODULES.join(","),
            lib_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    fn has_lib(dir: &Path, name: &str) -> bool {
        dir.join(format!("lib{name}.so")).exists()
    }

    /// Include directories pkg-config names for ns-3, if it knows ns-3. Debian's .pc files
    /// emit a bogus `-I/usr\;` token; tokens containing ';' are dropped.
    fn pkg_config_includes() -> Option<Vec<PathBuf>> {
        let out = Command::new("pkg-config")
            .args(["--cflags-only-I", "ns3-core"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8(out.stdout).ok()?;
        let mut dirs: Vec<PathBuf> = text
            .split_whitespace()
            .filter(|t| !t.contains(';'))
            .filter_map(|t| t.strip_prefix("-I"))
            .map(PathBuf::from)
            .collect();
        // pkg-config leaves out the system include directory, where Debian puts ns3/.
        dirs.push(PathBuf::from("/usr/include"));
        Some(dirs)
    }

    pub(crate) fn build() {
        println!("cargo:rerun-if-changed=ns3-shim/shim.cc");
        println!("cargo:rerun-if-env-changed=VIPE_NS3_INCLUDE_DIR");
        println!("cargo:rerun-if-env-changed=VIPE_NS3_LIB_DIR");
        println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
        let ns3 = match find_ns3() {
            Ok(ns3) => ns3,
            Err(why) => {
                eprintln!(
                    "error: the `ns3` feature needs ns-3 3.37 development files ({why}). Install the \
                     Debian package libns3-dev: `apt-get install libns3-dev libgsl-dev` (or point \
                     VIPE_NS3_INCLUDE_DIR and VIPE_NS3_LIB_DIR at an ns-3 install)."
                );
                std::process::exit(1);
            }
        };
        let mut build = cc::Build::new();
        build
            .cpp(true)
            .std("c++17")
            .opt_level(2)
            .file("ns3-shim/shim.cc")
            // ns-3's headers are not warning-clean; the shim's own code is checked by review.
            .warnings(false);
        for dir in &ns3.include_dirs {
            build.include(dir);
        }
        build.compile("vipe_ns3_shim");
        println!("cargo:rustc-link-search=native={}", ns3.lib_dir.display());
        for lib in &ns3.libs {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }
}
