//! Small helpers shared by the macros.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Tokens as compact text, for descriptor tables (`Option < u32 >` → `Option<u32>`).
pub fn type_text(ty: &impl ToTokens) -> String {
    let text = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let next = chars.get(i + 1).copied();
            let glue = |ch: Option<char>| {
                matches!(
                    ch,
                    Some('<' | '>' | ':' | '&' | ',' | '(' | ')' | '[' | ']' | ';')
                )
            };
            if glue(prev) && prev != Some(',') && prev != Some(';')
                || glue(next) && next != Some('&')
            {
                continue;
            }
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// Errors as tokens: every collected error becomes a `compile_error!` at its span.
pub fn errors_to_tokens(errors: darling::Error) -> TokenStream {
    errors.write_errors()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_text_is_compact() {
        let ty: syn::Type = syn::parse_quote!(Option<(u32, u16)>);
        assert_eq!(type_text(&ty), "Option<(u32, u16)>");
        let ty: syn::Type = syn::parse_quote!(crate::Id);
        assert_eq!(type_text(&ty), "crate::Id");
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(did_you_mean("lowr", ["lower", "upper"]), Some("lower"));
        assert_eq!(did_you_mean("zzz", ["lower", "upper"]), None);
    }
}
