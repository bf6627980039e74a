//! Rendering rows as an aligned table, JSON lines or CSV.
//!
//! JSON and CSV rows are written as they come (a large log streams in
//! constant memory); the table is buffered because its column widths depend
//! on every row.

use std::io::{self, Write};

use clap::ValueEnum;

use crate::policy::ConsentStatus;
use crate::present::{rfc3339_millis, rfc3339_seconds, status_title};

/// Output format of the listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people; times to the second, statuses capitalised.
    Table,
    /// One JSON object per line (JSON Lines); times RFC 3339 UTC with milliseconds.
    Json,
    /// RFC 4180 CSV with a header line; times RFC 3339 UTC with milliseconds.
    Csv,
}

/// One value of a row; each format spells it its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Free text (JSON string).
    Text(String),
    /// An integer (JSON number).
    Int(i64),
    /// Milliseconds since the epoch (RFC 3339 UTC).
    Time(i64),
    /// A consent status: lowercase in JSON/CSV, capitalised in the table.
    Status(ConsentStatus),
    /// Absent: JSON null, empty in CSV and the table.
    Null,
}

/// Writes rows of fixed `columns` (JSON keys, CSV header, table headings
/// in upper case) in one [`Format`].
#[derive(Debug)]
pub struct Output<W: Write> {
    format: Format,
    columns: &'static [&'static str],
    out: W,
    table: Vec<Vec<String>>,
}

impl<W: Write> Output<W> {
    /// Starts the output; the CSV header is written at once.
    pub fn new(format: Format, columns: &'static [&'static str], mut out: W) -> io::Result<Self> {
        if format == Format::Csv {
            let header: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
            write_csv_record(&mut out, &header)?;
        }
        Ok(Output {
            format,
            columns,
            out,
            table: Vec::new(),
        })
    }

    /// Writes (or, for the table, keeps) one row; `cells` match `columns`.
    pub fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        match self.format {
            Format::Json => {
                let line = json_object(self.columns, cells);
                writeln!(self.out, "{line}")
            }
            Format::Csv => {
                let fields: Vec<String> = cells.iter().map(machine_text).collect();
                write_csv_record(&mut self.out, &fields)
            }
            Format::Table => {
                self.table.push(cells.iter().map(table_text).collect());
                Ok(())
            }
        }
    }

    /// Writes the buffered table, if any, and flushes.
    pub fn finish(mut self) -> io::Result<()> {
        if self.format == Format::Table {
            let header: Vec<String> = self.columns.iter().map(|c| c.to_uppercase()).collect();
            write_table(&mut self.out, &header, &self.table)?;
        }
        self.out.flush()
    }
}

fn machine_text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Time(ms) => rfc3339_millis(*ms),
        Cell::Status(s) => s.as_str().to_owned(),
        Cell::Null => String::new(),
    }
}

fn table_text(c: &Cell) -> String {
    match c {
        Cell::Time(ms) => rfc3339_seconds(*ms),
        Cell::Status(s) => status_title(*s).to_owned(),
        other => machine_text(other),
    }
}

fn write_table<W: Write>(out: &mut W, header: &[String], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                // No padding after the last column: no trailing blanks.
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// One JSON object `{"col": value, ...}` on one line.
pub fn json_object(columns: &[&str], cells: &[Cell]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in columns.iter().zip(cells).enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&json_string(k));
        s.push(':');
        match v {
            Cell::Int(n) => s.push_str(&n.to_string()),
            Cell::Null => s.push_str("null"),
            other => s.push_str(&json_string(&machine_text(other))),
        }
    }
    s.push('}');
    s
}

/// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub use crate::present::write_csv_record;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_escapes_quotes_and_controls() {
        assert_eq!(json_string("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\u0001é""#);
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        let mut out = Vec::new();
        write_csv_record(&mut out, &["a".into(), "b,c".into(), "say \"hi\"".into()]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,\"b,c\",\"say \"\"hi\"\"\"\n"
        );
    }

    #[test]
    fn table_aligns_columns_and_titles_statuses() {
        let mut out = Vec::new();
        let mut o = Output::new(Format::Table, &["campaign", "status"], &mut out).unwrap();
        o.row(&[
            Cell::Text("long-campaign".into()),
            Cell::Status(ConsentStatus::Refused),
        ])
        .unwrap();
        o.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "CAMPAIGN       STATUS\nlong-campaign  Refused\n");
    }
}
