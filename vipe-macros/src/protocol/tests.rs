//! Snapshots of the pretty-printed expansion of representative protocols.

use proc_macro2::TokenStream;
use quote::quote;

fn pretty(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("expansion parses as a file");
    prettyplease::unparse(&file)
}

fn expand_item(attr: TokenStream, item: TokenStream) -> String {
    pretty(super::expand(attr, item))
}

#[test]
fn struct_gets_its_name() {
    insta::assert_snapshot!(expand_item(
        quote!(name = "echo"),
        quote! {
            /// Answers pings.
            pub struct Echo { replies: u64 }
        }
    ));
}

#[test]
fn echo_with_ports_and_timers() {
    insta::assert_snapshot!(expand_item(
        quote!(),
        quote! {
            impl Echo {
                #[on_start]
                fn start(&mut self, cx: &mut Cx<Self>) {
                    cx.start_periodic(EchoTimer::Report, Duration::from_secs(1));
                }

                #[on_packet(port = "lower")]
                fn request(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
                    cx.send(EchoPort::Lower, pkt);
                }

                #[on_timer]
                fn report(&mut self, cx: &mut Cx<Self>) {}

                #[on_timer(name = "Rto")]
                fn retransmit(&mut self, cx: &mut Cx<Self>, seq: u32, attempt: u8) {}

                fn helper(&self) -> u32 { 1 }
            }
        }
    ));
}

#[test]
fn keyed_and_send_only_ports_declared_in_full() {
    insta::assert_snapshot!(expand_item(
        quote!(ports(lower, upper(u16), report), crate = "crate::rt"),
        quote! {
            impl Ethernet {
                #[on_packet(port = "lower")]
                fn from_wire(&mut self, cx: &mut Cx<Self>, pkt: Packet) {}

                #[on_packet(port = "upper")]
                fn from_upper(&mut self, cx: &mut Cx<Self>, pkt: Packet, ethertype: u16) {}

                #[on_stop]
                fn stop(&mut self, cx: &mut Cx<Self>) {}
            }
        }
    ));
}

#[test]
fn protocol_without_handlers() {
    insta::assert_snapshot!(expand_item(quote!(), quote! { impl Idle {} }));
}

#[test]
fn all_errors_are_reported_together() {
    let out = super::expand(
        quote!(),
        quote! {
            impl Broken {
                #[on_packet(port = "lower")]
                async fn a(&mut self, cx: &mut Cx<Self>, pkt: Packet) {}
                #[on_packet(port = "lower")]
                fn b(&mut self, cx: &mut Cx<Self>, pkt: Packet) {}
                #[on_packet(port = "lower")]
                fn c(&mut self, cx: &mut Cx<Self>, pkt: Packet) {}
                #[on_timer]
                fn t(self, cx: &mut Cx<Self>) {}
            }
        },
    )
    .to_string();
    assert_eq!(out.matches("compile_error").count(), 3, "{out}");
}

#[test]
fn four_ports_test_the_first_apart() {
    insta::assert_snapshot!(expand_item(
        quote!(ports(lower, upper(u16), control, monitor)),
        quote! {
            impl Subject {
                #[on_packet(port = "lower")]
                fn lower(&mut self, cx: &mut Cx<Self>, pkt: Packet) {}

                #[on_packet(port = "upper")]
                fn upper(&mut self, cx: &mut Cx<Self>, pkt: Packet, key: u16) {}

                #[on_packet(port = "control")]
                fn control(&mut self, cx: &mut Cx<Self>, pkt: Packet) {}
            }
        }
    ));
}
