//! Finds a second `#[protocol]` impl block of the same protocol.
//!
//! Every `#[protocol]` impl block generates the protocol's port and timer enums and its
//! `Protocol` impl, so two blocks for one type collide in some 30 rustc errors, none of
//! which says that one block must hold all the handlers. A macro sees only its own item,
//! so the later block reads its own source file (through the span's file, available to
//! proc macros since Rust 1.88) and looks for an earlier `#[protocol] impl` of the same
//! type in the same scope. That is a pure function of the source, so it gives the same
//! answer on every build and in every tool; when the source cannot be read or the block
//! cannot be found in it (generated code, `include!`), nothing is reported and rustc's
//! own errors remain. A block under `#[cfg(...)]` is not counted (it may be compiled
//! out).
//!
//! The scanner is a small lexer, not a Rust parser: it skips comments and string,
//! character and raw-string literals, tracks braces to tell scopes apart, and recognises
//! `#[...protocol...] impl<...> path::Name {` item starts.

/// A `#[protocol]` impl block found in a source file.
#[derive(Debug, PartialEq, Eq)]
pub struct Block {
    /// 1-based line of its `impl` keyword.
    pub line: usize,
    /// The last segment of the implemented type's path.
    pub name: String,
    /// Byte offsets of the `{` of every enclosing scope, outermost first.
    pub scope: Vec<usize>,
}

#[derive(Debug, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    Punct(char),
    /// A literal or a lifetime: nothing the scanner looks into.
    Other,
}

struct Token<'a> {
    tok: Tok<'a>,
    offset: usize,
    line: usize,
}

fn lex(src: &str) -> Vec<Token<'_>> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let n = bytes.len();
    // Skips a quoted body starting after the opening quote; returns the index after the
    // closing quote.
    let skip_quoted = |mut j: usize, line: &mut usize| -> usize {
        while j < n {
            match bytes[j] {
                b'\\' => j += 2,
                b'"' => return j + 1,
                b'\n' => {
                    *line += 1;
                    j += 1;
                }
                _ => j += 1,
            }
        }
        n
    };
    while i < n {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < n && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 1;
                i += 2;
                while i < n && depth > 0 {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                    } else {
                        if bytes[i] == b'\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            b'"' => {
                let start = i;
                i = skip_quoted(i + 1, &mut line);
                out.push(Token {
                    tok: Tok::Other,
                    offset: start,
                    line,
                });
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
                let start = i;
                if bytes.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < n && bytes[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    // One (maybe multi-byte) character, then a quote for a char literal.
                    let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                    if bytes.get(i + 1 + ch_len) == Some(&b'\'') {
                        i += 2 + ch_len;
                    } else {
                        i += 1;
                        while i < n && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                            i += 1;
                        }
                    }
                }
                out.push(Token {
                    tok: Tok::Other,
                    offset: start,
                    line,
                });
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = i;
                // Raw strings and byte/C strings: r"..", r#".."#, br"..", b"..", c"..".
                let raw_hashes = |j: usize| -> Option<(usize, usize)> {
                    let mut k = j;
                    while k < n && bytes[k] == b'#' {
                        k += 1;
                    }
                    (bytes.get(k) == Some(&b'"')).then_some((k - j, k + 1))
                };
                let prefix_end = match (c, bytes.get(i + 1)) {
                    (b'b' | b'c', Some(b'r')) => Some(i + 2),
                    (b'r', _) => Some(i + 1),
                    _ => None,
                };
                if let Some((hashes, body)) = prefix_end.and_then(raw_hashes) {
                    let mut j = body;
                    loop {
                        if j >= n {
                            break;
                        }
                        if bytes[j] == b'\n' {
                            line += 1;
                        }
                        if bytes[j] == b'"'
                            && bytes[j + 1..]
                                .iter()
                                .take(hashes)
                                .filter(|b| **b == b'#')
                                .count()
                                == hashes
                        {
                            j += 1 + hashes;
                            break;
                        }
                        j += 1;
                    }
                    i = j;
                    out.push(Token {
                        tok: Tok::Other,
                        offset: start,
                        line,
                    });
                    continue;
                }
                if matches!(c, b'b' | b'c') && bytes.get(i + 1) == Some(&b'"') {
                    i = skip_quoted(i + 2, &mut line);
                    out.push(Token {
                        tok: Tok::Other,
                        offset: start,
                        line,
                    });
                    continue;
                }
                if c == b'b' && bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    while i < n && bytes[i] != b'\'' {
                        if bytes[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    i += 1;
                    out.push(Token {
                        tok: Tok::Other,
                        offset: start,
                        line,
                    });
                    continue;
                }
                while i < n
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                let word = &src[start..i];
                let word = word.strip_prefix("r#").unwrap_or(word);
                out.push(Token {
                    tok: Tok::Ident(word),
                    offset: start,
                    line,
                });
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < n && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Other,
                    offset: start,
                    line,
                });
            }
            _ => {
                out.push(Token {
                    tok: Tok::Punct(c as char),
                    offset: i,
                    line,
                });
                i += 1;
            }
        }
    }
    out
}

/// Every `#[protocol]` impl block in `src` that is not under `#[cfg]`.
pub fn protocol_blocks(src: &str) -> Vec<Block> {
    let tokens = lex(src);
    let mut blocks = Vec::new();
    let mut scope: Vec<usize> = Vec::new();
    // Attributes seen since the last item boundary: (has `protocol`, has `cfg`).
    let mut marked = false;
    let mut cfg = false;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i].tok {
            Tok::Punct('#') => {
                // `#[...]` or `#![...]`: read the path before `(`, `=` or `]`.
                let mut j = i + 1;
                if tokens.get(j).map(|t| &t.tok) == Some(&Tok::Punct('!')) {
                    j += 1;
                }
                if tokens.get(j).map(|t| &t.tok) != Some(&Tok::Punct('[')) {
                    i += 1;
                    continue;
                }
                let mut depth = 0usize;
                let mut last_ident: Option<&str> = None;
                let mut in_path = true;
                while j < tokens.len() {
                    match tokens[j].tok {
                        Tok::Punct('[' | '(' | '{') => {
                            depth += 1;
                            if depth > 1 {
                                in_path = false;
                            }
                        }
                        Tok::Punct(']' | ')' | '}') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Tok::Ident(word) if in_path && depth == 1 => last_ident = Some(word),
                        Tok::Punct(':') if in_path => {}
                        _ => in_path = false,
                    }
                    j += 1;
                }
                match last_ident {
                    Some("protocol") => marked = true,
                    Some("cfg" | "cfg_attr") => cfg = true,
                    _ => {}
                }
                i = j + 1;
                continue;
            }
            Tok::Ident("impl") if marked => {
                let line = tokens[i].line;
                let mut j = i + 1;
                let mut angle = 0usize;
                let mut name: Option<&str> = None;
                let mut is_trait = false;
                while j < tokens.len() {
                    match tokens[j].tok {
                        Tok::Punct('<') => angle += 1,
                        Tok::Punct('>') => angle = angle.saturating_sub(1),
                        Tok::Punct('{') if angle == 0 => break,
                        Tok::Ident("where") if angle == 0 => break,
                        Tok::Ident("for") if angle == 0 => is_trait = true,
                        Tok::Ident(word) if angle == 0 => name = Some(word),
                        _ => {}
                    }
                    j += 1;
                }
                if let (Some(name), false, false) = (name, is_trait, cfg) {
                    blocks.push(Block {
                        line,
                        name: name.to_owned(),
                        scope: scope.clone(),
                    });
                }
                marked = false;
                cfg = false;
                i = j;
                continue;
            }
            Tok::Punct('{') => {
                scope.push(tokens[i].offset);
                marked = false;
                cfg = false;
            }
            Tok::Punct('}') => {
                scope.pop();
                marked = false;
                cfg = false;
            }
            Tok::Punct(';') => {
                marked = false;
                cfg = false;
            }
            Tok::Ident(
                "fn" | "struct" | "enum" | "mod" | "trait" | "const" | "static" | "type" | "use"
                | "let" | "union",
            ) => {
                marked = false;
                cfg = false;
            }
            _ => {}
        }
        i += 1;
    }
    blocks
}

/// The line of an earlier `#[protocol]` impl block for `name` in the same scope as the
/// one whose `impl` keyword is on `line`, if `src` has one.
pub fn earlier_block(src: &str, line: usize, name: &str) -> Option<usize> {
    let blocks = protocol_blocks(src);
    let this = blocks.iter().find(|b| b.line == line && b.name == name)?;
    blocks
        .iter()
        .filter(|b| b.name == name && b.scope == this.scope && b.line < line)
        .map(|b| b.line)
        .min()
}

/// For the `#[protocol]` impl block whose `impl` keyword has `span`: the line of an
/// earlier `#[protocol]` impl block of the same type in its source file.
pub fn earlier_block_of(span: proc_macro2::Span, name: &str) -> Option<usize> {
    if !proc_macro::is_available() {
        return None;
    }
    let span = span.unwrap();
    let path = span.local_file()?;
    let src = std::fs::read_to_string(path).ok()?;
    earlier_block(&src, span.line(), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_with_their_scopes_and_skips_cfg_and_trait_impls() {
        let src = r##"
// #[protocol] impl P {} in a comment
/* #[protocol]
   impl P {} */
const S: &str = "#[protocol] impl P {}";
const R: &str = r#"#[protocol] impl P {"#;
const C: char = '{';
#[protocol]
struct P;
#[protocol]
impl P {
    fn a<'a>(&'a mut self) {}
}
impl P {}
#[vipe_rt::protocol(ports(lower))]
/// doc
impl<> crate::P {
}
mod inner {
    #[protocol]
    impl P {}
}
#[cfg(test)]
#[protocol]
impl P {}
#[protocol]
impl Proto for P {}
"##;
        let blocks = protocol_blocks(src);
        let summary: Vec<(usize, &str, usize)> = blocks
            .iter()
            .map(|b| (b.line, b.name.as_str(), b.scope.len()))
            .collect();
        assert_eq!(summary, vec![(11, "P", 0), (17, "P", 0), (21, "P", 1)]);
        assert_eq!(earlier_block(src, 17, "P"), Some(11));
        assert_eq!(earlier_block(src, 11, "P"), None);
        assert_eq!(earlier_block(src, 21, "P"), None);
        assert_eq!(earlier_block(src, 25, "P"), None);
    }
}
