//! Reading an import file as text, whatever it was saved as: UTF-8 with or
//! without a byte order mark, UTF-16 LE/BE (Excel's "Unicode text", with a
//! BOM, or recognised by its zero bytes), else Windows-1252 (Latin-1's
//! superset; what Excel on Windows and Outlook write). The file is streamed
//! line by line, never loaded whole; binary files are refused up front.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use encoding_rs::{Decoder, UTF_16BE, UTF_16LE, WINDOWS_1252};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// How much of the file is looked at to decide its encoding.
pub const SAMPLE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum TextEncoding {
    Utf8,
    /// UTF-8 with a byte order mark (Excel's "CSV UTF-8").
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    /// Not UTF-8: read as Windows-1252.
    Windows1252,
}

impl TextEncoding {
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 (BOM)",
            TextEncoding::Utf16Le => "UTF-16 LE",
            TextEncoding::Utf16Be => "UTF-16 BE",
            TextEncoding::Windows1252 => "Windows-1252",
        }
    }
}

/// Decide the encoding from the first bytes of a file, or say why it is not text.
pub fn sniff(sample: &[u8]) -> Result<TextEncoding, String> {
    if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(TextEncoding::Utf8Bom);
    }
    if sample.starts_with(&[0xFF, 0xFE]) {
        return Ok(TextEncoding::Utf16Le);
    }
    if sample.starts_with(&[0xFE, 0xFF]) {
        return Ok(TextEncoding::Utf16Be);
    }
    for (magic, what) in [
        (
            &b"PK\x03\x04"[..],
            "a ZIP archive (an Excel .xlsx or Numbers file?): export it as CSV first",
        ),
        (&b"%PDF"[..], "a PDF document"),
        (
            &b"\xD0\xCF\x11\xE0"[..],
            "an old Excel .xls workbook: save it as CSV first",
        ),
        (&b"SQLite format 3\0"[..], "an SQLite database"),
        (&b"\x89PNG"[..], "a PNG image"),
        (&b"\xFF\xD8\xFF"[..], "a JPEG image"),
        (&b"\x1F\x8B"[..], "a gzip archive"),
    ] {
        if sample.starts_with(magic) {
            return Err(format!("this is {what}, not a CSV file"));
        }
    }
    if sample.is_empty() {
        return Ok(TextEncoding::Utf8);
    }
    // UTF-16 without a BOM: mostly-ASCII text has a zero in every other byte.
    let pairs = sample.len() / 2;
    if pairs >= 2 {
        let even_zero = sample.iter().step_by(2).filter(|b| **b == 0).count();
        let odd_zero = sample
            .iter()
            .skip(1)
            .step_by(2)
            .filter(|b| **b == 0)
            .count();
        if odd_zero * 10 >= pairs * 7 && even_zero * 10 <= pairs {
            return Ok(TextEncoding::Utf16Le);
        }
        if even_zero * 10 >= pairs * 7 && odd_zero * 10 <= pairs {
            return Ok(TextEncoding::Utf16Be);
        }
    }
    if let Some(at) = sample.iter().position(|b| *b == 0) {
        return Err(format!(
            "this is a binary file, not a CSV file (a zero byte at offset {at})"
        ));
    }
    let control = sample
        .iter()
        .filter(|b| **b < 0x20 && !matches!(**b, b'\t' | b'\n' | b'\r' | 0x0C))
        .count();
    if control * 20 > sample.len() {
        return Err("this is a binary file, not a CSV file (control bytes)".into());
    }
    // A sample cut in the middle of a character is still UTF-8.
    match std::str::from_utf8(sample) {
        Ok(_) => Ok(TextEncoding::Utf8),
        Err(e) if e.error_len().is_none() => Ok(TextEncoding::Utf8),
        Err(_) => Ok(TextEncoding::Windows1252),
    }
}

/// Counts the bytes read from the file, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// UTF-16 to UTF-8, a chunk at a time.
struct Utf16ToUtf8<R> {
    inner: R,
    decoder: Decoder,
    raw: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    done: bool,
}

impl<R: Read> Read for Utf16ToUtf8<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.raw.resize(SAMPLE, 0);
            let n = self.inner.read(&mut self.raw)?;
            let last = n == 0;
            self.out.clear();
            self.out_pos = 0;
            let want = self.decoder.max_utf8_buffer_length(n).unwrap_or(n * 3 + 16);
            self.out.resize(want, 0);
            let (_, _, written, _) =
                self.decoder
                    .decode_to_utf8(&self.raw[..n], &mut self.out, last);
            self.out.truncate(written);
            self.done = last;
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// A file as lines of text, in its detected encoding.
pub struct TextLines {
    reader: Box<dyn BufRead + Send>,
    encoding: TextEncoding,
    bytes: Vec<u8>,
    count: Arc<AtomicU64>,
    first: bool,
}

impl TextLines {
    /// Read `input` (whose first bytes are `sample`, already read from it).
    pub fn new(sample: Vec<u8>, input: impl Read + Send + 'static) -> Result<TextLines, String> {
        let encoding = sniff(&sample)?;
        let count = Arc::new(AtomicU64::new(sample.len() as u64));
        let raw = io::Cursor::new(sample).chain(Counting {
            inner: input,
            count: count.clone(),
        });
        let reader: Box<dyn BufRead + Send> = match encoding {
            TextEncoding::Utf16Le | TextEncoding::Utf16Be => {
                let enc = if encoding == TextEncoding::Utf16Le {
                    UTF_16LE
                } else {
                    UTF_16BE
                };
                Box::new(BufReader::with_capacity(
                    SAMPLE,
                    Utf16ToUtf8 {
                        inner: raw,
                        // Strips the BOM when there is one.
                        decoder: enc.new_decoder_with_bom_removal(),
                        raw: Vec::new(),
                        out: Vec::new(),
                        out_pos: 0,
                        done: false,
                    },
                ))
            }
            _ => Box::new(BufReader::with_capacity(SAMPLE, raw)),
        };
        Ok(TextLines {
            reader,
            encoding,
            bytes: Vec::new(),
            count,
            first: true,
        })
    }

    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// Bytes of the file read so far.
    pub fn bytes_read(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The next line with its line break (`\n`, `\r\n`) removed; `None` at
    /// the end. A line of a UTF-8 file that is not UTF-8 is read as
    /// Windows-1252 (files glued together from two sources have both).
    pub fn next_line(&mut self, line: &mut String) -> io::Result<bool> {
        self.bytes.clear();
        line.clear();
        if self.reader.read_until(b'\n', &mut self.bytes)? == 0 {
            return Ok(false);
        }
        let mut bytes = &self.bytes[..];
        if bytes.ends_with(b"\n") {
            bytes = &bytes[..bytes.len() - 1];
        }
        if bytes.ends_with(b"\r") {
            bytes = &bytes[..bytes.len() - 1];
        }
        if self.first {
            self.first = false;
            if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
                bytes = rest;
            }
        }
        match self.encoding {
            TextEncoding::Windows1252 => {
                line.push_str(&WINDOWS_1252.decode_without_bom_handling(bytes).0)
            }
            _ => match std::str::from_utf8(bytes) {
                Ok(s) => line.push_str(s),
                Err(_) => line.push_str(&WINDOWS_1252.decode_without_bom_handling(bytes).0),
            },
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> (TextEncoding, Vec<String>) {
        let sample = bytes[..bytes.len().min(10)].to_vec();
        let rest = bytes[sample.len()..].to_vec();
        let mut reader = TextLines::new(sample, io::Cursor::new(rest)).unwrap();
        let mut out = Vec::new();
        let mut line = String::new();
        while reader.next_line(&mut line).unwrap() {
            out.push(line.clone());
        }
        (reader.encoding(), out)
    }

    #[test]
    fn reads_each_encoding() {
        let (e, l) = lines("\u{feff}Name,Café\r\nZoë,1\r\n".as_bytes());
        assert_eq!(e, TextEncoding::Utf8Bom);
        assert_eq!(l, vec!["Name,Café", "Zoë,1"]);

        let (e, l) = lines(b"Name;Caf\xe9\nZo\xeb;\x80 5\n");
        assert_eq!(e, TextEncoding::Windows1252);
        assert_eq!(l, vec!["Name;Café", "Zoë;€ 5"]);

        let text = "Name\tCafé\r\nZoë\t1\r\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        let (e, l) = lines(&le);
        assert_eq!(e, TextEncoding::Utf16Le);
        assert_eq!(l, vec!["Name\tCafé", "Zoë\t1"]);

        let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        let (e, l) = lines(&be);
        assert_eq!(e, TextEncoding::Utf16Be);
        assert_eq!(l, vec!["Name\tCafé", "Zoë\t1"]);
    }

    #[test]
    fn refuses_binary_files() {
        assert!(sniff(b"PK\x03\x04abc").unwrap_err().contains("ZIP"));
        assert!(sniff(&[0u8; 4096]).unwrap_err().contains("binary"));
        assert!(sniff(b"\x01\x02\x03\x04\x05abc\x06\x07\x08")
            .unwrap_err()
            .contains("binary"));
        assert_eq!(sniff(b"a,b\n\xc3").unwrap(), TextEncoding::Utf8);
    }
}
