//! Escaping for the server-rendered consent log page. Every value printed
//! into HTML goes through [`html_escape`]; every value put into a link's
//! query string goes through [`url_encode`] first (and the whole link then
//! through [`html_escape`], as it sits in an attribute).

use std::fmt::Write;

/// `s` safe as HTML text and as a double- or single-quoted attribute
/// value: `&`, `<`, `>`, `"` and `'` become character references.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` percent-encoded as one query-string value: every byte except the
/// RFC 3986 unreserved characters is escaped.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `path?name=value&...` with the pairs whose value is empty left out.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| format!("{}={}", url_encode(n), url_encode(v)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_ampersands() {
        assert_eq!(
            html_escape("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(html_escape(r#"a "b" & c"#), "a &quot;b&quot; &amp; c");
        // Already escaped text is escaped again, never passed through.
        assert_eq!(html_escape("&amp;"), "&amp;amp;");
        assert_eq!(html_escape("plain 14155550100 ü"), "plain 14155550100 ü");
    }

    #[test]
    fn url_encoding_keeps_only_unreserved() {
        assert_eq!(url_encode("14155550100"), "14155550100");
        assert_eq!(
            url_encode("1'; DROP TABLE consent;--"),
            "1%27%3B%20DROP%20TABLE%20consent%3B--"
        );
        assert_eq!(url_encode("a&b=c+d"), "a%26b%3Dc%2Bd");
        assert_eq!(url_encode("é"), "%C3%A9");
    }

    #[test]
    fn links_skip_empty_values() {
        assert_eq!(link("/", &[("a", ""), ("b", "")]), "/");
        assert_eq!(
            link("/", &[("recipient", "+1 415"), ("status", ""), ("x", "&")]),
            "/?recipient=%2B1%20415&x=%26"
        );
    }
}
