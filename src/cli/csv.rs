//! A small RFC 4180 CSV reader: comma separated, `"` quoting with `""` for
//! a quote, quoted fields may hold commas and line breaks, lines end in LF
//! or CRLF. Blank lines are skipped. Each record keeps the line it starts
//! on, so problems can name it.

/// One record and the (1-based) line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Line number of the record's first character.
    pub line: usize,
    /// The fields, unquoted.
    pub fields: Vec<String>,
}

/// Why a CSV text could not be split into records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// A quoted field runs to the end of the input.
    #[error("line {0}: quoted field is never closed")]
    Unterminated(usize),
    /// Characters follow a closing quote before the next comma or line end.
    #[error("line {0}: unexpected text after a closing quote")]
    AfterQuote(usize),
}

/// Splits `text` (a leading UTF-8 byte order mark is ignored) into records.
pub fn parse(text: &str) -> Result<Vec<Record>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser {
        chars: text.chars().peekable(),
        line: 1,
    };
    let mut records = Vec::new();
    while p.chars.peek().is_some() {
        let line = p.line;
        let fields = p.record()?;
        let blank = fields.len() == 1 && fields.first().is_some_and(|f| f.trim().is_empty());
        if !blank {
            records.push(Record { line, fields });
        }
    }
    Ok(records)
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

impl Parser<'_> {
    /// Reads one record including its line end.
    fn record(&mut self) -> Result<Vec<String>, CsvError> {
        let mut fields = Vec::new();
        loop {
            let field = if self.chars.peek() == Some(&'"') {
                self.chars.next();
                self.quoted()?
            } else {
                self.plain()
            };
            fields.push(field);
            match self.chars.next() {
                Some(',') => continue,
                Some('\r') => {
                    if self.chars.peek() == Some(&'\n') {
                        self.chars.next();
                    }
                    self.line += 1;
                    return Ok(fields);
                }
                Some('\n') => {
                    self.line += 1;
                    return Ok(fields);
                }
                None => return Ok(fields),
                Some(_) => return Err(CsvError::AfterQuote(self.line)),
            }
        }
    }

    fn plain(&mut self) -> String {
        let mut s = String::new();
        while let Some(&c) = self.chars.peek() {
            if matches!(c, ',' | '\r' | '\n') {
                break;
            }
            s.push(c);
            self.chars.next();
        }
        s
    }

    /// After the opening quote: up to and including the closing quote.
    fn quoted(&mut self) -> Result<String, CsvError> {
        let start = self.line;
        let mut s = String::new();
        loop {
            match self.chars.next() {
                None => return Err(CsvError::Unterminated(start)),
                Some('"') if self.chars.peek() == Some(&'"') => {
                    self.chars.next();
                    s.push('"');
                }
                Some('"') => {
                    // Only a separator or line end may follow.
                    return match self.chars.peek() {
                        None | Some(',' | '\r' | '\n') => Ok(s),
                        Some(_) => Err(CsvError::AfterQuote(self.line)),
                    };
                }
                Some(c) => {
                    if c == '\n' {
                        self.line += 1;
                    }
                    s.push(c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fields(text: &str) -> Vec<(usize, Vec<String>)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|r| (r.line, r.fields))
            .collect()
    }

    fn rec(line: usize, f: &[&str]) -> (usize, Vec<String>) {
        (line, f.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn splits_plain_and_quoted_fields_with_line_numbers() {
        let got = fields("\u{feff}a,b\r\n\n\"x,\"\"y\"\"\",\"multi\nline\"\nlast,\n");
        assert_eq!(
            got,
            vec![
                rec(1, &["a", "b"]),
                rec(3, &["x,\"y\"", "multi\nline"]),
                rec(5, &["last", ""]),
            ]
        );
    }

    #[test]
    fn no_final_newline_is_fine() {
        assert_eq!(fields("r\n1"), vec![rec(1, &["r"]), rec(2, &["1"])]);
    }

    #[test]
    fn reports_broken_quoting_with_its_line() {
        assert_eq!(parse("a\n\"open\n"), Err(CsvError::Unterminated(2)));
        assert_eq!(parse("a\n\"x\"y,1\n"), Err(CsvError::AfterQuote(2)));
    }
}
