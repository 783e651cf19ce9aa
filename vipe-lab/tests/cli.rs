//! The `vipe-lab` binary as a user runs it: listing, help, a sweep whose CSVs are
//! byte-identical for `--jobs 1` and `--jobs 2`, the manifest's fields, figures that
//! decode, redrawing with `plot`, and bad input refused before anything runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vipe-lab"))
        .args(args)
        .output()
        .expect("vipe-lab runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn list_and_help_describe_the_experiments() {
    let out = lab(&["list"]);
    assert!(out.status.success());
    let listing = text(&out.stdout);
    for name in ["chord-paths", "chord-load", "heartbeat", "sim-scale"] {
        assert!(
            listing.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{listing}"
        );
    }
    assert!(listing.contains("[reproduces Stoica et al., SIGCOMM 2001, Fig. 10"));

    let out = lab(&["help", "heartbeat"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for expected in [
        "--loss",
        "probability",
        "default 0,0.05,0.1,0.15,0.2,0.25,0.3",
        "valid [0, 1]",
        "--latency-ms",
        "--quick: 50 probes",
        "delay_ms_cdf.csv",
        "answered: Probes answered vs. link loss",
    ] {
        assert!(help.contains(expected), "missing {expected:?} in:\n{help}");
    }

    let out = lab(&["run", "heartbeat", "--help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--rto-ms <V[,V...]>"));
}

#[test]
fn a_sweep_gives_identical_csvs_for_any_jobs_and_a_full_manifest() {
    let one = scratch("sweep-jobs1");
    let two = scratch("sweep-jobs2");
    for (dir, jobs) in [(&one, "1"), (&two, "2")] {
        let out = lab(&[
            "run",
            "heartbeat",
            "--loss",
            "0.05,0.2",
            "--count",
            "100",
            "--seeds",
            "4",
            "--jobs",
            jobs,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains("8 of 8 runs finished"), "{stdout}");
        assert!(stdout.contains("mean ± 95% CI"), "{stdout}");
    }
    for file in ["runs.csv", "summary.csv", "probes.csv", "delay_ms_cdf.csv"] {
        let a = std::fs::read(one.join(file)).unwrap();
        let b = std::fs::read(two.join(file)).unwrap();
        assert!(a == b, "{file} differs between --jobs 1 and --jobs 2");
    }

    // Schemas: parameters first, then the seed and the metrics; summary per point.
    let runs = std::fs::read_to_string(one.join("runs.csv")).unwrap();
    let mut lines = runs.lines();
    assert_eq!(
        lines.next().unwrap(),
        "count,interval-ms,rto-ms,retries,latency-ms,bandwidth-mbps,loss,queue,seed,answered,retransmissions_per_probe,duplicate_replies"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 8);
    assert!(
        rows[0].starts_with("100,20,60,5,10,10,0.05,32,1,"),
        "{}",
        rows[0]
    );
    assert!(
        rows[4].starts_with("100,20,60,5,10,10,0.2,32,1,"),
        "{}",
        rows[4]
    );
    let summary = std::fs::read_to_string(one.join("summary.csv")).unwrap();
    let header = summary.lines().next().unwrap();
    assert_eq!(
        header,
        "count,interval-ms,rto-ms,retries,latency-ms,bandwidth-mbps,loss,queue,seeds,\
         mean_answered,std_answered,ci95_lo_answered,ci95_hi_answered,\
         mean_retransmissions_per_probe,std_retransmissions_per_probe,ci95_lo_retransmissions_per_probe,ci95_hi_retransmissions_per_probe,\
         mean_duplicate_replies,std_duplicate_replies,ci95_lo_duplicate_replies,ci95_hi_duplicate_replies,\
         n_rtt_ms,mean_rtt_ms,ci95_lo_rtt_ms,ci95_hi_rtt_ms,p50_rtt_ms,p99_rtt_ms,max_rtt_ms,\
         n_delay_ms,mean_delay_ms,ci95_lo_delay_ms,ci95_hi_delay_ms,p50_delay_ms,p90_delay_ms,p99_delay_ms,max_delay_ms"
    );
    assert_eq!(summary.lines().count(), 3);
    let probes = std::fs::read_to_string(one.join("probes.csv")).unwrap();
    assert!(probes.starts_with(
        "count,interval-ms,rto-ms,retries,latency-ms,bandwidth-mbps,loss,queue,seed,probe,outcome,attempts,rtt_ms\n"
    ));
    assert_eq!(probes.lines().count(), 1 + 8 * 100);

    // The manifest: what reproduces the run, and what it cost.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(two.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["experiment"], "heartbeat");
    assert_eq!(
        manifest["parameters"]["loss"],
        serde_json::json!([0.05, 0.2])
    );
    assert_eq!(manifest["parameters"]["rto-ms"], serde_json::json!([60.0]));
    assert_eq!(manifest["seeds"], serde_json::json!([1, 2, 3, 4]));
    assert_eq!(manifest["jobs"], 2);
    assert_eq!(manifest["runs_completed"], 8);
    assert_eq!(manifest["runs"].as_array().unwrap().len(), 8);
    for field in [
        "version",
        "rustc",
        "cores",
        "started",
        "wall_seconds",
        "command",
    ] {
        assert!(!manifest[field].is_null(), "manifest lacks {field}");
    }
    assert!(manifest["rustc"].as_str().unwrap().starts_with("rustc "));
    let run = &manifest["runs"][0];
    assert!(run["wall_seconds"].as_f64().unwrap() >= 0.0);
    assert!(run["peak_heap_bytes"].as_u64().unwrap() > 0);
    assert!(
        run["peak_rss_bytes"].is_null(),
        "parallel runs share the process's RSS"
    );
    let alone: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(one.join("manifest.json")).unwrap()).unwrap();
    assert!(alone["runs"][0]["peak_rss_bytes"].as_u64().unwrap() > 1 << 20);
    assert!(run["events"].as_u64().unwrap() > 0);
    assert!(manifest["peak_rss_bytes"].as_u64().unwrap() > 0);
    assert!(
        manifest["command"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--jobs")
    );
    // A git checkout records its commit (CI and developers run from one).
    if Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.git")
        .exists()
    {
        assert_eq!(manifest["git_commit"].as_str().unwrap().len(), 40);
    }

    // Figures: PNGs decode to the drawn size, SVGs are well-formed XML with text.
    for figure in ["answered", "retransmissions", "delay", "delay_cdf"] {
        let png = image::open(two.join(format!("{figure}.png"))).expect("the PNG decodes");
        assert_eq!((png.width(), png.height()), (900, 600));
        let svg = std::fs::read_to_string(two.join(format!("{figure}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("the SVG parses");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(svg.contains("loss (probability)") || figure == "delay_cdf");
    }

    // `plot` redraws the same figures from the CSVs.
    let before = std::fs::read(two.join("answered.png")).unwrap();
    std::fs::remove_file(two.join("answered.png")).unwrap();
    let out = lab(&["plot", two.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(two.join("answered.png")).unwrap(), before);
}

#[test]
fn quick_is_the_documented_smaller_version() {
    let dir = scratch("quick");
    let out = lab(&[
        "run",
        "heartbeat",
        "--quick",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["parameters"]["count"], serde_json::json!([50]));
    assert_eq!(
        manifest["parameters"]["loss"],
        serde_json::json!([0.0, 0.1, 0.3])
    );
    assert_eq!(manifest["seeds"], serde_json::json!([1, 2, 3]));
    assert!(manifest["quick"].as_str().unwrap().contains("50 probes"));
    assert!(out.stderr.is_empty(), "--quiet prints no progress");
}

/// Each bad input exits non-zero with a message saying what to change, and runs nothing.
#[test]
fn bad_input_fails_before_any_run() {
    let other = scratch("other-experiment");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("manifest.json"),
        r#"{"experiment": "chord-paths"}"#,
    )
    .unwrap();
    let fresh = scratch("never-written");
    let fresh_dir = fresh.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "gossip"], "no experiment named 'gossip'"),
        (vec!["run"], "name the experiment"),
        (vec!["help", "gossip"], "no experiment named 'gossip'"),
        (vec!["run", "heartbeat", "--lsos", "0.1"], "--lsos"),
        (
            vec!["run", "heartbeat", "--loss", "1.5"],
            "1.5 is out of range [0, 1]",
        ),
        (
            vec!["run", "heartbeat", "--loss", "0.1,x"],
            "'x' is not a number",
        ),
        (
            vec!["run", "heartbeat", "--count", "0"],
            "--count 0: 0 is out of range",
        ),
        (vec!["run", "heartbeat", "--seeds", "0"], "--seeds 0"),
        (
            vec!["run", "heartbeat", "--seed-list", "3,3"],
            "seed 3 twice",
        ),
        (vec!["run", "heartbeat", "--jobs", "0"], "--jobs 0"),
        (
            vec!["run", "heartbeat", "--rto-ms", "5"],
            "below the link's round-trip latency",
        ),
        (
            vec!["run", "heartbeat", "--out", other.to_str().unwrap()],
            "holds results of experiment 'chord-paths'",
        ),
        (vec!["plot", fresh_dir], "has no manifest.json"),
    ];
    for (args, expected) in cases {
        let mut args = args;
        if args.len() >= 2 && args[0] == "run" && !args.contains(&"--out") {
            args.extend(["--out", fresh_dir]);
        }
        let out = lab(&args);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!fresh.join("runs.csv").exists(), "{args:?} ran");
    }
    // The other experiment's results are untouched.
    assert_eq!(
        std::fs::read_to_string(other.join("manifest.json")).unwrap(),
        r#"{"experiment": "chord-paths"}"#
    );
}

#[test]
fn sim_scale_digests_repeat_for_a_seed_and_differ_between_seeds() {
    let a = scratch("scale-a");
    let b = scratch("scale-b");
    for dir in [&a, &b] {
        let out = lab(&[
            "run",
            "sim-scale",
            "--nodes",
            "300",
            "--sim-seconds",
            "0.5",
            "--seeds",
            "2",
            "--quiet",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("cost on this machine"));
    }
    let runs = std::fs::read_to_string(a.join("runs.csv")).unwrap();
    assert_eq!(runs, std::fs::read_to_string(b.join("runs.csv")).unwrap());
    let mut lines = runs.lines();
    assert_eq!(
        lines.next().unwrap(),
        "nodes,in-flight,payload,latency,sim-seconds,seed,events,delivered,trace_digest"
    );
    let digests: Vec<&str> = lines.map(|l| l.rsplit(',').next().unwrap()).collect();
    assert_eq!(digests.len(), 2);
    assert_ne!(digests[0], digests[1], "seeds 1 and 2 ran the same events");
    assert_eq!(digests[0].len(), 16);

    let out = lab(&[
        "run",
        "sim-scale",
        "--latency",
        "gauss:5ms",
        "--out",
        a.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--latency gauss:5ms"),
        "{}",
        text(&out.stderr)
    );
}

/// The Pastry experiments write the columns the Pastry issue names, with a phase
/// column for failures, and refuse a bad phase before running.
#[test]
fn pastry_experiments_write_the_named_columns() {
    let dir = scratch("pastry-hops");
    let out = lab(&[
        "run",
        "pastry-hops",
        "--nodes",
        "150,300",
        "--routes",
        "3000",
        "--seeds",
        "1",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    for column in [
        "nodes",
        "routes",
        "mean_hops",
        "max_hops",
        "mean_relative_distance",
    ] {
        assert!(header.contains(&column), "{column} missing: {header:?}");
    }
    let pdf = std::fs::read_to_string(dir.join("hops_pdf.csv")).unwrap();
    let pdf_header: Vec<&str> = pdf.lines().next().unwrap().split(',').collect();
    for column in ["nodes", "hops", "fraction"] {
        assert!(
            pdf_header.contains(&column),
            "{column} missing: {pdf_header:?}"
        );
    }
    assert!(dir.join("hops.png").exists() && dir.join("hops_pdf.png").exists());

    let dir = scratch("pastry-fail");
    let out = lab(&[
        "run",
        "pastry-fail",
        "--nodes",
        "200",
        "--routes",
        "2000",
        "--seeds",
        "1",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let mut lines = summary.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for column in ["phase", "mean_hops", "mean_rpcs_per_failed_node"] {
        assert!(header.contains(&column), "{column} missing: {header:?}");
    }
    let phase = header.iter().position(|c| *c == "phase").unwrap();
    let phases: Vec<String> = lines
        .map(|l| l.split(',').nth(phase).unwrap().to_string())
        .collect();
    assert_eq!(phases, ["before", "failed", "repaired"]);

    let out = lab(&["run", "pastry-fail", "--phase", "during", "--quiet"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a phase"),
        "{}",
        text(&out.stderr)
    );
}
