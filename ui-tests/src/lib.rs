//! Only tests here: see `tests/`.
