//! Tools for `bench/linux-forward.sh`: `udp-blast` (a UDP load generator) and
//! `tap-forward` (a minimal hand-written IPv4 forwarder between two TAP devices, the
//! baseline the VIPE router is measured against). Binaries only.
