//! CSV files: a streaming reader (RFC 4180 plus what spreadsheets really
//! write) that finds the delimiter, keeps going past bad lines, and turns
//! rows into [`Record`]s through a column mapping.
//!
//! - Delimiter: comma, semicolon or tab, whichever the header line has most
//!   of outside quotes (Excel's `sep=;` first line is honoured).
//! - Quoted fields may span lines (notes). A quote that never closes is an
//!   error on the line where it opened, and reading resumes on the next line,
//!   so one stray quote does not swallow the rest of the file: a quoted field
//!   may span at most [`MAX_RECORD_LINES`] lines and [`MAX_FIELD_BYTES`].
//! - A row with more or fewer fields than the header is an error on its line
//!   (extra empty fields, as Excel pads rows, are fine).
//! - Memory stays bounded whatever the file's size: one record at a time.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::encoding::{TextEncoding, TextLines, SAMPLE};
use super::mapping::{self, kind_column};
use super::{
    import_records, CancelToken, Format, ImportOptions, ImportProgress, ImportReport, Record,
    RecordSource, RowError, Target,
};
use crate::custom_fields;
use crate::error::{Error, Result};
use crate::store::Store;

pub const MAX_RECORD_LINES: usize = 1000;
pub const MAX_FIELD_BYTES: usize = 1 << 20;

/// A CSV file being read: its header and then its rows.
pub struct CsvReader {
    lines: TextLines,
    delimiter: char,
    headers: Vec<String>,
    /// Physical line number of the last line taken from `lines`.
    line_no: u64,
    /// Lines to read again (after an unterminated quote), before `lines`.
    again: VecDeque<(u64, String)>,
    total: Option<u64>,
    buf: String,
}

/// Open a CSV file: detect its encoding and delimiter and read its header.
/// A binary file, an empty file or one without a header is an error.
pub fn open(path: &Path) -> Result<CsvReader> {
    let mut file = File::open(path)?;
    let total = file.metadata().ok().map(|m| m.len());
    let mut sample = Vec::with_capacity(SAMPLE);
    (&mut file).take(SAMPLE as u64).read_to_end(&mut sample)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    CsvReader::new(sample, file, total).map_err(|e| match e {
        Error::Validation(mut list) => {
            for f in &mut list {
                f.message = format!("{name}: {}", f.message);
            }
            Error::Validation(list)
        }
        other => other,
    })
}

impl CsvReader {
    /// Read from `input`, whose first bytes (up to [`SAMPLE`]) are `sample`.
    pub fn new(
        sample: Vec<u8>,
        input: impl Read + Send + 'static,
        total: Option<u64>,
    ) -> Result<CsvReader> {
        let lines = TextLines::new(sample, input).map_err(|m| Error::invalid("file", m))?;
        let mut reader = CsvReader {
            lines,
            delimiter: ',',
            headers: Vec::new(),
            line_no: 0,
            again: VecDeque::new(),
            total,
            buf: String::new(),
        };
        // The first non-blank line decides the delimiter.
        let first = loop {
            match reader.physical_line()? {
                None => return Err(Error::invalid("file", "the file is empty")),
                Some((_, l)) if l.trim().is_empty() => continue,
                Some(l) => break l,
            }
        };
        let (first_no, first) = first;
        let lower = first.trim().to_lowercase();
        if let Some(sep) = lower.strip_prefix("sep=") {
            reader.delimiter = sep.chars().next().unwrap_or(',');
        } else {
            reader.delimiter = detect_delimiter(&first);
            reader.again.push_front((first_no, first));
        }
        let headers = match reader.record(usize::MAX) {
            Some(Ok((_, h))) => h,
            Some(Err(e)) => {
                return Err(Error::invalid(
                    "file",
                    format!("line {}: the header {}", e.line, e.message),
                ))
            }
            None => return Err(Error::invalid("file", "the file has no header line")),
        };
        let headers: Vec<String> = headers.into_iter().map(|h| h.trim().to_owned()).collect();
        if headers.iter().all(|h| h.is_empty()) {
            return Err(Error::invalid("file", "the header line is empty"));
        }
        reader.headers = headers;
        Ok(reader)
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn delimiter(&self) -> char {
        self.delimiter
    }

    pub fn encoding(&self) -> TextEncoding {
        self.lines.encoding()
    }

    pub fn bytes_read(&self) -> u64 {
        self.lines.bytes_read()
    }

    fn physical_line(&mut self) -> Result<Option<(u64, String)>> {
        if let Some(l) = self.again.pop_front() {
            return Ok(Some(l));
        }
        if self.lines.next_line(&mut self.buf)? {
            self.line_no += 1;
            Ok(Some((self.line_no, std::mem::take(&mut self.buf))))
        } else {
            Ok(None)
        }
    }

    /// The next row's fields with the line it starts on, or its error.
    /// Blank lines are passed over. `expected`: the header's field count.
    pub fn next_row(&mut self) -> Option<std::result::Result<(u64, Vec<String>), RowError>> {
        let n = self.headers.len();
        let row = self.record(n)?;
        Some(row.and_then(|(line, mut fields)| {
            if fields.len() > n && fields[n..].iter().all(|f| f.trim().is_empty()) {
                fields.truncate(n);
            }
            if fields.len() != n {
                return Err(RowError::new(
                    line,
                    format!(
                        "the row has {} fields, the header has {n} (a missing or extra {})",
                        fields.len(),
                        match self.delimiter {
                            '\t' => "tab".to_owned(),
                            d => format!("'{d}'"),
                        }
                    ),
                ));
            }
            Ok((line, fields))
        }))
    }

    /// One logical record (quoted fields may span lines).
    fn record(
        &mut self,
        expected: usize,
    ) -> Option<std::result::Result<(u64, Vec<String>), RowError>> {
        let (start, first) = loop {
            match self.physical_line() {
                Err(e) => return Some(Err(RowError::new(self.line_no + 1, e.to_string()))),
                Ok(None) => return None,
                Ok(Some((_, l))) if l.trim().is_empty() => continue,
                Ok(Some(l)) => break l,
            }
        };
        let d = self.delimiter;
        let mut fields: Vec<String> = Vec::new();
        let mut field = String::new();
        let mut in_quotes = false;
        let mut at_start = true;
        // Lines after the first, kept to read again if the quote never closes.
        let mut spanned: Vec<(u64, String)> = Vec::new();
        let mut line = first;
        loop {
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                if in_quotes {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            field.push('"');
                        } else {
                            in_quotes = false;
                        }
                    } else {
                        field.push(c);
                    }
                } else if c == d {
                    fields.push(std::mem::take(&mut field));
                    at_start = true;
                    continue;
                } else if c == '"' && at_start && field.trim().is_empty() {
                    field.clear();
                    in_quotes = true;
                } else {
                    field.push(c);
                }
                at_start = false;
            }
            if !in_quotes {
                break;
            }
            let unterminated =
                |spanned: Vec<(u64, String)>, again: &mut VecDeque<(u64, String)>| {
                    for l in spanned.into_iter().rev() {
                        again.push_front(l);
                    }
                    Some(Err(RowError::new(
                        start,
                        "a quoted field starts here and never ends (a stray or missing '\"')",
                    )))
                };
            if spanned.len() >= MAX_RECORD_LINES || field.len() > MAX_FIELD_BYTES {
                return unterminated(spanned, &mut self.again);
            }
            match self.physical_line() {
                Ok(Some((no, next))) => {
                    field.push('\n');
                    spanned.push((no, next.clone()));
                    line = next;
                }
                Ok(None) => return unterminated(spanned, &mut self.again),
                Err(e) => return Some(Err(RowError::new(start, e.to_string()))),
            }
        }
        fields.push(field);
        // A quote that closed on a later line but left the row ragged was
        // most likely a stray one: report it and read those lines again.
        if !spanned.is_empty() && expected != usize::MAX && fields.len() != expected {
            for l in spanned.into_iter().rev() {
                self.again.push_front(l);
            }
            return Some(Err(RowError::new(
                start,
                "a quoted field starts here and does not end where the row does (a stray '\"')",
            )));
        }
        Some(Ok((start, fields)))
    }
}

fn detect_delimiter(line: &str) -> char {
    let mut counts = [(',', 0usize), (';', 0), ('\t', 0)];
    let mut in_quotes = false;
    for c in line.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            for (d, n) in counts.iter_mut() {
                if c == *d {
                    *n += 1;
                }
            }
        }
    }
    // Ties go to the first: comma.
    let mut best = counts[0];
    for c in &counts[1..] {
        if c.1 > best.1 {
            best = *c;
        }
    }
    best.0
}

/// A CSV file's rows as records, through a mapping.
pub struct CsvRecords {
    reader: CsvReader,
    mapping: Vec<Option<Target>>,
    /// For email/phone columns: the column holding their kind (Google).
    kinds: Vec<Option<usize>>,
}

impl CsvRecords {
    pub fn new(reader: CsvReader, mapping: Vec<Option<Target>>) -> CsvRecords {
        let kinds = (0..reader.headers.len())
            .map(|i| match mapping.get(i) {
                Some(Some(Target::Email(_) | Target::Phone(_))) => kind_column(&reader.headers, i),
                // "Address 1 - City" takes its kind from "Address 1 - Type".
                Some(Some(Target::Address(..))) => {
                    let h = &reader.headers[i];
                    let prefix = h.rsplit_once(" - ").map(|(p, _)| p)?;
                    reader.headers.iter().position(|x| {
                        let x = x.trim().to_lowercase();
                        x == format!("{} - type", prefix.trim().to_lowercase())
                            || x == format!("{} - label", prefix.trim().to_lowercase())
                    })
                }
                _ => None,
            })
            .collect();
        CsvRecords {
            reader,
            mapping,
            kinds,
        }
    }
}

/// "* Work", "Mobile ::: Home", "Main", "WORK" → our kinds.
fn kind_of(label: &str, phone: bool) -> Option<&'static str> {
    let first = label
        .split(":::")
        .next()
        .unwrap_or("")
        .trim()
        .trim_start_matches('*')
        .trim()
        .to_lowercase();
    Some(match first.as_str() {
        "work" | "business" | "main" | "company main" | "work fax" => "work",
        "home" | "personal" | "home fax" => "home",
        "mobile" | "cell" | "iphone" if phone => "mobile",
        "" => return None,
        _ => "other",
    })
}

impl Iterator for CsvRecords {
    type Item = std::result::Result<Record, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = self.reader.next_row()?;
        Some(row.map(|(line, fields)| {
            let mut record = Record::new(line);
            for (i, (target, value)) in self.mapping.iter().zip(&fields).enumerate() {
                let Some(target) = target else { continue };
                if value.trim().is_empty() {
                    continue;
                }
                let kinded =
                    self.kinds[i]
                        .and_then(|k| fields.get(k))
                        .and_then(|label| match target {
                            Target::Email(_) => kind_of(label, false).map(Target::Email),
                            Target::Phone(_) => kind_of(label, true).map(Target::Phone),
                            Target::Address(_, part) => {
                                kind_of(label, false).map(|k| Target::Address(k, part))
                            }
                            _ => None,
                        });
                record.push(kinded.unwrap_or_else(|| target.clone()), value.clone());
            }
            record
        }))
    }
}

impl RecordSource for CsvRecords {
    fn position(&self) -> (u64, Option<u64>) {
        (self.reader.bytes_read(), self.reader.total)
    }
}

/// What the mapping step of the wizard shows before anything is imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, rename = "ImportPreview")]
pub struct Preview {
    pub file_name: String,
    pub encoding: TextEncoding,
    /// `,`, `;` or `\t`.
    pub delimiter: String,
    pub columns: Vec<PreviewColumn>,
    /// The first rows' fields (rows that could not be read are left out).
    pub rows: Vec<Vec<String>>,
    /// Size of the file in bytes.
    #[ts(type = "number | null")]
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export, rename = "ImportPreviewColumn")]
pub struct PreviewColumn {
    pub column: String,
    /// The target field (`first_name`, `email:home`, `custom:budget`, ...), or null: skipped.
    pub target: Option<String>,
    /// The first non-empty value of the column in the previewed rows.
    pub example: Option<String>,
}

/// The file's columns with their targets: auto-mapped, then `choices`
/// (a saved mapping, the user's `--map`s) applied in order.
pub async fn mapping_for(
    store: &Store,
    headers: &[String],
    choices: &[(String, Option<Target>)],
) -> Result<Vec<Option<Target>>> {
    let custom = custom_fields::list(store, None, false).await?;
    let mut mapping = mapping::auto_map(headers, &custom);
    mapping::apply(headers, &mut mapping, choices)?;
    Ok(mapping)
}

/// Read a file's header and first `rows` rows and propose a mapping.
pub async fn preview(
    store: &Store,
    path: &Path,
    choices: &[(String, Option<Target>)],
    rows: usize,
) -> Result<Preview> {
    let mut reader = open(path)?;
    let headers = reader.headers().to_vec();
    let mapping = mapping_for(store, &headers, choices).await?;
    let mut sample = Vec::new();
    while sample.len() < rows {
        match reader.next_row() {
            None => break,
            Some(Ok((_, fields))) => sample.push(fields),
            Some(Err(_)) => {}
        }
    }
    let columns = headers
        .iter()
        .enumerate()
        .map(|(i, h)| PreviewColumn {
            column: h.clone(),
            target: mapping[i].as_ref().map(Target::to_string),
            example: sample
                .iter()
                .filter_map(|r| r.get(i))
                .find(|v| !v.trim().is_empty())
                .cloned(),
        })
        .collect();
    Ok(Preview {
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        encoding: reader.encoding(),
        delimiter: reader.delimiter().to_string(),
        columns,
        rows: sample,
        bytes: reader.total,
    })
}

/// Import (or dry-run) a CSV file: open it, map its columns (auto-mapping
/// with `choices` applied over it) and run the shared import pipeline.
pub async fn import_file<F>(
    store: &Store,
    path: &Path,
    choices: &[(String, Option<Target>)],
    dry_run: bool,
    progress: F,
    cancel: &CancelToken,
) -> Result<ImportReport>
where
    F: FnMut(&ImportProgress) + Send,
{
    let reader = open(path)?;
    let headers = reader.headers().to_vec();
    let mapping = mapping_for(store, &headers, choices).await?;
    if mapping.iter().all(Option::is_none) {
        return Err(Error::invalid(
            "map",
            format!(
                "no column maps to a field (columns: {}); map some with --map \"Column=field\"",
                headers.join(", ")
            ),
        ));
    }
    let options = ImportOptions {
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        format: Format::Csv,
        mapping: mapping::to_map(&headers, &mapping),
        dry_run,
    };
    let records = CsvRecords::new(reader, mapping);
    import_records(store, records, &options, progress, cancel).await
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rows = Vec<std::result::Result<(u64, Vec<String>), RowError>>;

    fn rows(text: &str) -> (CsvReader, Rows) {
        let mut r = CsvReader::new(text.as_bytes().to_vec(), std::io::empty(), None).unwrap();
        let mut out = Vec::new();
        while let Some(row) = r.next_row() {
            out.push(row);
        }
        (r, out)
    }

    #[test]
    fn quoted_fields_delimiters_and_blank_lines() {
        let (r, out) = rows(
            "Name;Notes;City\r\n\"Doe; Jane\";\"said \"\"hi\"\"\nthen left\";Köln\r\n\r\nBob;;\n",
        );
        assert_eq!(r.delimiter(), ';');
        assert_eq!(r.headers(), ["Name", "Notes", "City"]);
        assert_eq!(
            out,
            vec![
                Ok((
                    2,
                    vec![
                        "Doe; Jane".into(),
                        "said \"hi\"\nthen left".into(),
                        "Köln".into()
                    ]
                )),
                Ok((5, vec!["Bob".into(), "".into(), "".into()])),
            ]
        );
        let (r, _) = rows("a\tb\tc\n1\t2\t3\n");
        assert_eq!(r.delimiter(), '\t');
        let (r, out) = rows("sep=;\na;b\n1,5;2\n");
        assert_eq!(r.delimiter(), ';');
        assert_eq!(out, vec![Ok((3, vec!["1,5".into(), "2".into()]))]);
    }

    #[test]
    fn ragged_rows_and_stray_quotes_are_errors_on_their_line_only() {
        let (_, out) = rows("a,b,c\n1,2,3\n1,2\n\"open,2,3\n4,5,6\n7,8,9,,\n1,2,3,4\n");
        assert_eq!(out[0], Ok((2, vec!["1".into(), "2".into(), "3".into()])));
        assert_eq!(out[1].as_ref().unwrap_err().line, 3);
        assert!(out[1].as_ref().unwrap_err().message.contains("2 fields"));
        assert_eq!(out[2].as_ref().unwrap_err().line, 4);
        assert!(out[2].as_ref().unwrap_err().message.contains("never ends"));
        assert_eq!(out[3], Ok((5, vec!["4".into(), "5".into(), "6".into()])));
        assert_eq!(out[4], Ok((6, vec!["7".into(), "8".into(), "9".into()])));
        assert_eq!(out[5].as_ref().unwrap_err().line, 7);
        assert_eq!(out.len(), 6);
    }

    #[test]
    fn google_kind_columns() {
        let text = "Given Name,E-mail 1 - Type,E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value\n\
                    Ada,* Home,ada@example.com,Mobile,+44 20 7946 0018\n";
        let reader = CsvReader::new(text.as_bytes().to_vec(), std::io::empty(), None).unwrap();
        let mapping = mapping::auto_map(reader.headers(), &[]);
        let records: Vec<_> = CsvRecords::new(reader, mapping).collect();
        assert_eq!(
            records[0].as_ref().unwrap().values,
            vec![
                (Target::Contact("first_name"), "Ada".to_owned()),
                (Target::Email("home"), "ada@example.com".to_owned()),
                (Target::Phone("mobile"), "+44 20 7946 0018".to_owned()),
            ]
        );
    }
}
