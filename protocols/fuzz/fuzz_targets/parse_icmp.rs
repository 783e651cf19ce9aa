//! Fuzzes the icmp parser: any bytes give a value or an error, accessors stay in bounds,
//! and what parses re-emits to bytes that parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vipe_protocols::wire::icmp::IcmpHeaderView;
use vipe_rt::Header;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = IcmpHeaderView::parse(data) {
        let _ = (v.to_owned(), v.verify_checksum(), v.payload().len());
        let owned = v.to_owned();
        let mut buf = data.to_vec();
        if owned.emit(&mut buf).is_ok() {
            let again = IcmpHeaderView::parse(&buf[..]).map(|v| v.to_owned());
            assert!(again.is_ok(), "re-emitted header does not parse: {again:?}");
        }
    }
});
