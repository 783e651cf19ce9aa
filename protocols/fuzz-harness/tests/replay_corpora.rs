//! Replays every committed fuzz corpus file (`protocols/fuzz/corpus/<target>/`) through
//! the same harness function the fuzz target runs, on stable, without cargo-fuzz: what
//! the fuzzer found interesting (and every crash it found, kept as a regression input)
//! must still run without a panic or a handler fault.

use std::fs;
use std::path::Path;

#[test]
fn every_committed_corpus_file_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut replayed = 0;
    for (name, harness) in vipe_fuzz_harness::TARGETS {
        let dir = root.join(name);
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut files = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| harness(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", path.display());
            files += 1;
        }
        assert!(files > 0, "{name}: no corpus in {}", dir.display());
        replayed += files;
    }
    eprintln!("replayed {replayed} corpus files");
}
