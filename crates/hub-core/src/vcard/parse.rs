//! Reading vCard 2.1, 3.0 and 4.0 files into [`Card`]s, one card at a time.
//!
//! Lines are read as bytes (a 2.1 file may be Windows-1252 or carry a
//! `CHARSET` per property), unfolded (CRLF or LF followed by a space or tab;
//! a quoted-printable value ending in `=` continues on the next line), split
//! into `group.NAME;params:value`, decoded (QUOTED-PRINTABLE, BASE64/`b`,
//! CHARSET) and unescaped (`\,` `\;` `\n` `\\`).
//!
//! A problem inside one card (a card with no `END:VCARD`, a line that is not
//! a property, an undecodable value) is an error for that card with its line
//! number; the reader then carries on with the next card. Memory is bounded:
//! a line longer than [`MAX_LINE`] or a card larger than [`MAX_CARD`] is an
//! error for that card, and the rest of it is skipped without being stored.

use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;

use base64::Engine;
use chrono::NaiveDate;
use serde::Serialize;

/// Longest physical line kept (a photo is one long folded value, but its
/// physical lines are short; a longer line is a binary file or a broken one).
pub const MAX_LINE: usize = 1 << 20;
/// Largest card kept, photo included.
pub const MAX_CARD: usize = 8 << 20;
/// Largest photo kept, decoded: larger ones are left out with a warning
/// (they would be synced to every device).
pub const MAX_PHOTO: usize = 512 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    #[serde(rename = "2.1")]
    V21,
    #[serde(rename = "3.0")]
    V30,
    #[serde(rename = "4.0")]
    V40,
}

/// A value with its `TYPE`s, lower-cased (`work`, `cell`, `voice`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Typed {
    pub types: Vec<String>,
    pub value: String,
    /// `TYPE=pref` (2.1/3.0) or `PREF=n` (4.0, 1 is most preferred).
    pub pref: Option<u8>,
    /// Apple's `itemN.X-ABLabel` for this property, when there is one.
    pub label: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StructuredName {
    pub family: String,
    pub given: String,
    pub additional: String,
    pub prefixes: String,
    pub suffixes: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Address {
    pub types: Vec<String>,
    pub label: Option<String>,
    pub po_box: String,
    pub extended: String,
    pub street: String,
    pub locality: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        [
            &self.po_box,
            &self.extended,
            &self.street,
            &self.locality,
            &self.region,
            &self.postal_code,
            &self.country,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }
}

/// A birthday; vCard 4.0 (and Apple's `X-APPLE-OMIT-YEAR`) allow one with no
/// year. `Display` gives ISO 8601: `1985-04-12` or `--04-12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Birthday {
    pub year: Option<i32>,
    pub month: u32,
    pub day: u32,
}

impl fmt::Display for Birthday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.year {
            Some(y) => write!(f, "{y:04}-{:02}-{:02}", self.month, self.day),
            None => write!(f, "--{:02}-{:02}", self.month, self.day),
        }
    }
}

impl Birthday {
    /// `1985-04-12`, `19850412`, `--04-12`, `--0412`, with an optional time
    /// part (`T...`) ignored. A day that does not exist is an error.
    pub fn parse(text: &str) -> Result<Birthday, String> {
        let t = text.trim();
        let date = t.split('T').next().unwrap_or("");
        let bad = || format!("\"{t}\" is not a birthday (1985-04-12, 19850412 or --04-12)");
        let digits: String = date.chars().filter(|c| *c != '-').collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let (year, md) = if let Some(rest) = date.strip_prefix("--") {
            let md: String = rest.chars().filter(|c| *c != '-').collect();
            (None, md)
        } else if digits.len() == 8 {
            (
                Some(digits[..4].parse::<i32>().map_err(|_| bad())?),
                digits[4..].to_owned(),
            )
        } else {
            return Err(bad());
        };
        if md.len() != 4 {
            return Err(bad());
        }
        let month: u32 = md[..2].parse().map_err(|_| bad())?;
        let day: u32 = md[2..].parse().map_err(|_| bad())?;
        // A leap year checks 29 February when the year is unknown.
        if NaiveDate::from_ymd_opt(year.unwrap_or(2000), month, day).is_none() {
            return Err(bad());
        }
        Ok(Birthday { year, month, day })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Photo {
    /// Inline image, kept as base64 with its media type (`image/jpeg`).
    Data { media_type: String, base64: String },
    /// A link (`https://...`).
    Uri { uri: String },
}

impl Photo {
    /// `data:image/jpeg;base64,...` or the link.
    pub fn to_uri(&self) -> String {
        match self {
            Photo::Data { media_type, base64 } => format!("data:{media_type};base64,{base64}"),
            Photo::Uri { uri } => uri.clone(),
        }
    }
}

/// One contact read from a vCard file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Card {
    /// Line of its `BEGIN:VCARD` (1-based).
    pub line: usize,
    pub version: Version,
    pub formatted_name: Option<String>,
    pub name: Option<StructuredName>,
    pub nickname: Option<String>,
    /// Organisation name, then its units (department, ...).
    pub org: Vec<String>,
    pub title: Option<String>,
    pub emails: Vec<Typed>,
    pub phones: Vec<Typed>,
    pub addresses: Vec<Address>,
    pub birthday: Option<Birthday>,
    pub note: Option<String>,
    pub urls: Vec<Typed>,
    pub categories: Vec<String>,
    pub photo: Option<Photo>,
    pub uid: Option<String>,
    /// Things left out (an oversized photo, an unreadable birthday) — the
    /// card is still imported.
    pub warnings: Vec<String>,
}

impl Card {
    fn new(line: usize) -> Card {
        Card {
            line,
            version: Version::V30,
            formatted_name: None,
            name: None,
            nickname: None,
            org: Vec::new(),
            title: None,
            emails: Vec::new(),
            phones: Vec::new(),
            addresses: Vec::new(),
            birthday: None,
            note: None,
            urls: Vec::new(),
            categories: Vec::new(),
            photo: None,
            uid: None,
            warnings: Vec::new(),
        }
    }

    /// The company: the first ORG component.
    pub fn company(&self) -> Option<&str> {
        self.org.first().map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

/// Why a card (or some lines outside any card) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CardError {
    /// The card's `BEGIN:VCARD` line, or the offending line outside a card.
    pub line: usize,
    pub message: String,
}

/// One unfolded content line: `group.NAME;params:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub line: usize,
    pub group: Option<String>,
    /// Upper-cased.
    pub name: String,
    /// Names upper-cased; 2.1 bare parameters (`WORK`, `QUOTED-PRINTABLE`)
    /// come as `TYPE` / `ENCODING` / `VALUE`.
    pub params: Vec<(String, String)>,
    /// Raw (still escaped, still encoded) bytes of the value.
    pub raw: Vec<u8>,
}

impl Property {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every TYPE value, split on commas and lower-cased.
    fn types(&self) -> Vec<String> {
        self.params
            .iter()
            .filter(|(n, _)| n == "TYPE")
            .flat_map(|(_, v)| v.split(','))
            .map(|t| t.trim().trim_matches('"').to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }

    fn encoding(&self) -> Option<String> {
        self.param("ENCODING").map(|e| e.to_ascii_uppercase())
    }

    /// The value as text: quoted-printable decoded, then read in its
    /// CHARSET (UTF-8 by default; bytes that are not UTF-8 are read as
    /// Windows-1252, which is what a 2.1 file with no CHARSET usually is).
    fn text(&self) -> Result<String, String> {
        let bytes = match self.encoding().as_deref() {
            Some("QUOTED-PRINTABLE") => decode_qp(&self.raw)?,
            _ => self.raw.clone(),
        };
        decode_charset(&bytes, self.param("CHARSET"))
    }
}

/// RFC 2045 quoted-printable: `=XX` is a byte, `=` at a line end a soft break
/// (unfolding already removed the break itself). Lenient about lower-case hex.
pub fn decode_qp(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'=' {
            let hex = raw.get(i + 1..i + 3);
            match hex.and_then(|h| std::str::from_utf8(h).ok()) {
                Some(h) if h.chars().all(|c| c.is_ascii_hexdigit()) => {
                    out.push(u8::from_str_radix(h, 16).map_err(|e| e.to_string())?);
                    i += 3;
                }
                // A trailing `=` with nothing after it: a soft break at the
                // very end of the value.
                None if i + 1 == raw.len() => i += 1,
                _ => {
                    return Err(format!(
                        "bad quoted-printable escape \"{}\"",
                        String::from_utf8_lossy(&raw[i..raw.len().min(i + 3)])
                    ))
                }
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

/// Read bytes in a CHARSET; an unknown CHARSET is an error.
pub fn decode_charset(bytes: &[u8], charset: Option<&str>) -> Result<String, String> {
    match charset.map(str::trim).filter(|c| !c.is_empty()) {
        Some(label) => {
            let encoding = encoding_rs::Encoding::for_label(label.as_bytes())
                .ok_or_else(|| format!("unknown CHARSET \"{label}\""))?;
            let (text, _, _) = encoding.decode(bytes);
            Ok(text.into_owned())
        }
        None => Ok(match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
        }),
    }
}

/// Undo vCard text escaping: `\n` `\N` → newline, `\,` `\;` `\:` `\\` → the
/// character. A backslash before anything else is kept (2.1 files use
/// backslashes in Windows paths).
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(e @ (',' | ';' | ':' | '\\')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Split on an unescaped separator, leaving the parts escaped.
pub fn split_unescaped(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Split a content line into group, name, parameters and raw value.
pub fn parse_property(line: usize, bytes: &[u8]) -> Result<Property, String> {
    // The value starts after the first colon not inside a quoted parameter.
    let mut in_quotes = false;
    let mut colon = None;
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b':' if !in_quotes => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let preview = || String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned();
    let colon =
        colon.ok_or_else(|| format!("\"{}\" is not a vCard property (no ':')", preview()))?;
    let head = std::str::from_utf8(&bytes[..colon])
        .map_err(|_| format!("\"{}\" is not a vCard property name", preview()))?;
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    for (i, c) in head.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => {
                pieces.push(&head[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&head[start..]);
    let full_name = pieces[0].trim();
    let (group, name) = match full_name.rsplit_once('.') {
        Some((g, n)) => (Some(g.to_owned()), n),
        None => (None, full_name),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!("\"{}\" is not a vCard property", preview()));
    }
    let mut params = Vec::new();
    for p in &pieces[1..] {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        match p.split_once('=') {
            Some((n, v)) => {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                params.push((n.trim().to_ascii_uppercase(), v.to_owned()));
            }
            None => {
                // vCard 2.1 bare parameters.
                let upper = p.to_ascii_uppercase();
                let n = match upper.as_str() {
                    "QUOTED-PRINTABLE" | "BASE64" | "8BIT" | "7BIT" | "B" => "ENCODING",
                    "INLINE" | "URL" | "CONTENT-ID" | "CID" => "VALUE",
                    _ => "TYPE",
                };
                params.push((n.to_owned(), upper));
            }
        }
    }
    Ok(Property {
        line,
        group,
        name: name.to_ascii_uppercase(),
        params,
        raw: bytes[colon + 1..].to_vec(),
    })
}

/// Whether a content line is a quoted-printable value (so a trailing `=`
/// continues it on the next physical line).
fn is_qp(bytes: &[u8]) -> bool {
    let head_end = bytes.iter().position(|b| *b == b':').unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_uppercase();
    head.contains("QUOTED-PRINTABLE")
}

/// Whether a content line is an inline base64 value (2.1 `BASE64`).
fn is_base64(bytes: &[u8]) -> bool {
    let head_end = bytes.iter().position(|b| *b == b':').unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_uppercase();
    head.contains("BASE64")
}

/// A line of nothing but base64 (no `:`, so never a property).
fn is_base64_data(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Reads physical lines of at most [`MAX_LINE`] bytes. A byte order mark
/// is dropped; a UTF-16 file (Windows tools write them) is decoded to UTF-8
/// as it streams.
struct Lines<R> {
    reader: R,
    number: usize,
    started: bool,
    utf16: Option<encoding_rs::Decoder>,
    /// UTF-16 decoded, not yet consumed.
    decoded: Vec<u8>,
    at: usize,
    /// The UTF-16 input has ended (the decoder is finished).
    ended: bool,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R) -> Lines<R> {
        Lines {
            reader,
            number: 0,
            started: false,
            utf16: None,
            decoded: Vec::new(),
            at: 0,
            ended: false,
        }
    }

    fn fill(&mut self) -> std::io::Result<&[u8]> {
        if !self.started {
            self.started = true;
            let head = self.reader.fill_buf()?;
            if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.reader.consume(3);
            } else if head.starts_with(&[0xFF, 0xFE]) {
                self.utf16 = Some(encoding_rs::UTF_16LE.new_decoder_without_bom_handling());
                self.reader.consume(2);
            } else if head.starts_with(&[0xFE, 0xFF]) {
                self.utf16 = Some(encoding_rs::UTF_16BE.new_decoder_without_bom_handling());
                self.reader.consume(2);
            }
        }
        let Some(decoder) = self.utf16.as_mut() else {
            return self.reader.fill_buf();
        };
        if self.at == self.decoded.len() && !self.ended {
            self.decoded.clear();
            self.at = 0;
            let src = self.reader.fill_buf()?;
            let last = src.is_empty();
            self.ended = last;
            let mut out = vec![0u8; src.len() * 3 / 2 + 16];
            let (_, read, written, _) = decoder.decode_to_utf8(src, &mut out, last);
            out.truncate(written);
            self.reader.consume(read);
            self.decoded = out;
            if self.decoded.is_empty() && !last {
                // An odd byte waits for its pair: read on.
                return self.fill();
            }
        }
        Ok(&self.decoded[self.at..])
    }

    fn consume(&mut self, n: usize) {
        if self.utf16.is_some() {
            self.at += n;
        } else {
            self.reader.consume(n);
        }
    }
}

enum Physical {
    Line(Vec<u8>),
    /// Longer than MAX_LINE: its first bytes (for the property name); the
    /// rest was skipped.
    TooLong(Vec<u8>),
}

/// How much of an oversized line is kept: enough for its property name.
const HEAD: usize = 80;

impl<R: BufRead> Lines<R> {
    fn next(&mut self) -> std::io::Result<Option<(usize, Physical)>> {
        let mut line = Vec::new();
        let mut too_long = false;
        let mut any = false;
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            if !too_long {
                if line.len() + chunk.len() > MAX_LINE {
                    too_long = true;
                    line.extend_from_slice(&chunk[..chunk.len().min(HEAD)]);
                    line.truncate(HEAD);
                } else {
                    line.extend_from_slice(chunk);
                }
            }
            let used = done.unwrap_or(buf.len());
            self.consume(used);
            if done.is_some() {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if too_long {
            return Ok(Some((self.number, Physical::TooLong(line))));
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some((self.number, Physical::Line(line))))
    }
}

/// The cards of a vCard file, each `Ok(Card)` or a [`CardError`]; an I/O
/// error ends the iteration with one last error.
pub struct Cards<R> {
    lines: Lines<R>,
    /// A physical line read ahead while unfolding.
    peeked: Option<(usize, Physical)>,
    done: bool,
}

/// Read the cards of `reader` (a file, a byte slice, ...).
pub fn cards<R: BufRead>(reader: R) -> Cards<R> {
    Cards {
        lines: Lines::new(reader),
        peeked: None,
        done: false,
    }
}

/// Parse a whole string (tests, small inputs).
pub fn parse_str(text: &str) -> Vec<Result<Card, CardError>> {
    cards(text.as_bytes()).collect()
}

enum Logical {
    Line(usize, Vec<u8>),
    /// Line number and the first bytes of an unfolded line longer than MAX_LINE.
    TooLong(usize, Vec<u8>),
}

impl<R: BufRead> Cards<R> {
    fn physical(&mut self) -> std::io::Result<Option<(usize, Physical)>> {
        match self.peeked.take() {
            Some(p) => Ok(Some(p)),
            None => self.lines.next(),
        }
    }

    /// The next unfolded content line.
    fn logical(&mut self) -> std::io::Result<Option<Logical>> {
        let (number, first) = match self.physical()? {
            None => return Ok(None),
            Some(p) => p,
        };
        let (mut line, mut overflow) = match first {
            Physical::TooLong(head) => (head, true),
            Physical::Line(l) => (l, false),
        };
        let qp = is_qp(&line);
        let base64 = is_base64(&line);
        let mut last = line.last().copied();
        loop {
            let soft_break = qp && last == Some(b'=');
            let next = match self.physical()? {
                Some(next) => next,
                None => break,
            };
            let continues = |l: &[u8]| {
                soft_break
                    || matches!(l.first(), Some(b' ' | b'\t'))
                    || (base64 && is_base64_data(l))
            };
            match next {
                (n, Physical::Line(next)) if !continues(&next) => {
                    self.peeked = Some((n, Physical::Line(next)));
                    break;
                }
                (n, Physical::TooLong(head)) if !continues(&head) => {
                    self.peeked = Some((n, Physical::TooLong(head)));
                    break;
                }
                (_, Physical::TooLong(_)) => overflow = true,
                (_, Physical::Line(next)) => {
                    let piece: &[u8] = if soft_break {
                        if !overflow {
                            line.pop();
                        }
                        &next
                    } else if matches!(next.first(), Some(b' ' | b'\t')) {
                        &next[1..]
                    } else {
                        // vCard 2.1 lets base64 data run on unindented lines
                        // up to a blank line.
                        &next
                    };
                    last = piece
                        .last()
                        .copied()
                        .or(if soft_break { None } else { last });
                    if !overflow {
                        line.extend_from_slice(piece);
                        if line.len() > MAX_LINE {
                            overflow = true;
                            line.truncate(HEAD);
                        }
                    }
                }
            }
        }
        if overflow {
            return Ok(Some(Logical::TooLong(number, line)));
        }
        Ok(Some(Logical::Line(number, line)))
    }

    fn is_begin(bytes: &[u8]) -> bool {
        trim_ascii(bytes).eq_ignore_ascii_case(b"BEGIN:VCARD")
    }

    fn is_end(bytes: &[u8]) -> bool {
        trim_ascii(bytes).eq_ignore_ascii_case(b"END:VCARD")
    }

    fn next_card(&mut self) -> std::io::Result<Option<Result<Card, CardError>>> {
        // Outside a card: skip blank lines; anything else is reported once
        // per run of such lines.
        let begin = loop {
            match self.logical()? {
                None => return Ok(None),
                Some(Logical::Line(n, l)) if Self::is_begin(&l) => break n,
                Some(Logical::Line(_, l)) if trim_ascii(&l).is_empty() => continue,
                Some(Logical::Line(n, _)) | Some(Logical::TooLong(n, _)) => {
                    self.skip_to_begin()?;
                    return Ok(Some(Err(CardError {
                        line: n,
                        message: "not a vCard: expected BEGIN:VCARD".into(),
                    })));
                }
            }
        };
        let mut props = Vec::new();
        let mut size = 0usize;
        let mut problem: Option<String> = None;
        let mut warnings = Vec::new();
        loop {
            match self.logical()? {
                None => {
                    return Ok(Some(Err(CardError {
                        line: begin,
                        message: "the card has no END:VCARD (the file ends inside it)".into(),
                    })))
                }
                Some(Logical::Line(n, l)) if Self::is_begin(&l) => {
                    // Put BEGIN back for the next card.
                    self.peeked = Some((n, Physical::Line(l)));
                    return Ok(Some(Err(CardError {
                        line: begin,
                        message: format!(
                            "the card has no END:VCARD (a new card begins on line {n})"
                        ),
                    })));
                }
                Some(Logical::Line(_, l)) if Self::is_end(&l) => break,
                Some(Logical::TooLong(n, head)) => {
                    // An oversized photo (or sound, key, X- extension) is
                    // left out; the contact still imports. Anything else
                    // that large is not a contact field: the card is refused.
                    let name = String::from_utf8_lossy(&head)
                        .split([';', ':'])
                        .next()
                        .unwrap_or_default()
                        .rsplit('.')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_ascii_uppercase();
                    if matches!(name.as_str(), "PHOTO" | "LOGO" | "SOUND" | "KEY")
                        || name.starts_with("X-")
                    {
                        warnings.push(format!(
                            "line {n}: {name} is larger than {} MB: left out",
                            MAX_LINE >> 20
                        ));
                    } else {
                        problem.get_or_insert(format!("line {n} is longer than {MAX_LINE} bytes"));
                    }
                }
                Some(Logical::Line(_, l)) if trim_ascii(&l).is_empty() => continue,
                Some(Logical::Line(n, l)) => {
                    if problem.is_some() {
                        continue;
                    }
                    size += l.len();
                    if size > MAX_CARD {
                        problem = Some(format!("the card is larger than {} MB", MAX_CARD >> 20));
                        props.clear();
                        continue;
                    }
                    match parse_property(n, &l) {
                        Ok(p) => props.push(p),
                        Err(e) => problem = Some(format!("line {n}: {e}")),
                    }
                }
            }
        }
        if let Some(message) = problem {
            return Ok(Some(Err(CardError {
                line: begin,
                message,
            })));
        }
        Ok(Some(build(begin, props).map(|mut card| {
            card.warnings.extend(warnings);
            card
        })))
    }

    fn skip_to_begin(&mut self) -> std::io::Result<()> {
        loop {
            match self.physical()? {
                None => return Ok(()),
                Some((n, Physical::Line(l))) if Self::is_begin(&l) => {
                    self.peeked = Some((n, Physical::Line(l)));
                    return Ok(());
                }
                Some(_) => {}
            }
        }
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

impl<R: BufRead> Iterator for Cards<R> {
    type Item = Result<Card, CardError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_card() {
            Ok(item) => {
                self.done = item.is_none();
                item
            }
            Err(e) => {
                self.done = true;
                Some(Err(CardError {
                    line: self.lines.number,
                    message: format!("cannot read the file: {e}"),
                }))
            }
        }
    }
}

fn nonempty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Apple's labels: `_$!<Work>!$_` → `work`; a custom label stays as typed.
fn ab_label(text: &str) -> String {
    let t = text.trim();
    t.strip_prefix("_$!<")
        .and_then(|t| t.strip_suffix(">!$_"))
        .unwrap_or(t)
        .to_owned()
}

fn pref_of(p: &Property, types: &mut Vec<String>) -> Option<u8> {
    let from_param = p.param("PREF").and_then(|v| v.trim().parse::<u8>().ok());
    let had_type = types.iter().any(|t| t == "pref");
    types.retain(|t| t != "pref");
    from_param.or(had_type.then_some(1))
}

/// Turn a card's properties into a [`Card`].
fn build(line: usize, props: Vec<Property>) -> Result<Card, CardError> {
    let err = |message: String| CardError { line, message };
    let mut card = Card::new(line);
    // Apple puts a label on a group: `item1.EMAIL` + `item1.X-ABLabel`.
    let labels: HashMap<String, String> = props
        .iter()
        .filter(|p| p.name == "X-ABLABEL")
        .filter_map(|p| Some((p.group.clone()?, ab_label(&p.text().ok()?))))
        .collect();
    let label_of = |p: &Property| p.group.as_ref().and_then(|g| labels.get(g)).cloned();
    let mut omit_year = None;
    let mut version_seen = false;
    for p in &props {
        let value = |p: &Property| {
            p.text()
                .map_err(|e| err(format!("line {}: {}: {e}", p.line, p.name)))
        };
        match p.name.as_str() {
            "VERSION" => {
                version_seen = true;
                card.version = match value(p)?.trim() {
                    "2.1" => Version::V21,
                    "3.0" => Version::V30,
                    "4.0" => Version::V40,
                    other => {
                        return Err(err(format!(
                            "line {}: VERSION \"{other}\" is not 2.1, 3.0 or 4.0",
                            p.line
                        )))
                    }
                };
            }
            "FN" => card.formatted_name = nonempty(unescape(&value(p)?)),
            "N" => {
                let v = value(p)?;
                let parts: Vec<String> = split_unescaped(&v, ';')
                    .into_iter()
                    .map(|s| {
                        split_unescaped(s, ',')
                            .into_iter()
                            .map(|x| unescape(x).trim().to_owned())
                            .filter(|x| !x.is_empty())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                let at = |i: usize| parts.get(i).cloned().unwrap_or_default();
                let n = StructuredName {
                    family: at(0),
                    given: at(1),
                    additional: at(2),
                    prefixes: at(3),
                    suffixes: at(4),
                };
                if n != StructuredName::default() {
                    card.name = Some(n);
                }
            }
            "NICKNAME" => card.nickname = nonempty(unescape(&value(p)?)),
            "ORG" => {
                let v = value(p)?;
                card.org = split_unescaped(&v, ';')
                    .into_iter()
                    .map(|s| unescape(s).trim().to_owned())
                    .collect();
                while card.org.last().is_some_and(|s| s.is_empty()) {
                    card.org.pop();
                }
            }
            "TITLE" => card.title = nonempty(unescape(&value(p)?)),
            "NOTE" => {
                let note = unescape(&value(p)?);
                if !note.trim().is_empty() {
                    card.note = Some(match card.note.take() {
                        Some(prev) => format!("{prev}\n\n{}", note.trim_end()),
                        None => note.trim_end().to_owned(),
                    });
                }
            }
            "EMAIL" => {
                let mut types = p.types();
                let pref = pref_of(p, &mut types);
                types.retain(|t| t != "internet" && t != "x400");
                if let Some(v) = nonempty(unescape(&value(p)?)) {
                    let v = v.strip_prefix("mailto:").map(str::to_owned).unwrap_or(v);
                    card.emails.push(Typed {
                        types,
                        value: v,
                        pref,
                        label: label_of(p),
                    });
                }
            }
            "TEL" => {
                let mut types = p.types();
                let pref = pref_of(p, &mut types);
                if let Some(v) = nonempty(unescape(&value(p)?)) {
                    // 4.0: `VALUE=uri:tel:+1-555-555-0100;ext=12`.
                    let v = match v.get(..4) {
                        Some(s) if s.eq_ignore_ascii_case("tel:") => v[4..].to_owned(),
                        _ => v,
                    };
                    card.phones.push(Typed {
                        types,
                        value: v,
                        pref,
                        label: label_of(p),
                    });
                }
            }
            "ADR" => {
                let v = value(p)?;
                let parts: Vec<String> = split_unescaped(&v, ';')
                    .into_iter()
                    .map(|s| {
                        split_unescaped(s, ',')
                            .into_iter()
                            .map(|x| unescape(x).trim().to_owned())
                            .filter(|x| !x.is_empty())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .collect();
                let at = |i: usize| parts.get(i).cloned().unwrap_or_default();
                let mut types = p.types();
                pref_of(p, &mut types);
                let a = Address {
                    types,
                    label: label_of(p),
                    po_box: at(0),
                    extended: at(1),
                    street: at(2),
                    locality: at(3),
                    region: at(4),
                    postal_code: at(5),
                    country: at(6),
                };
                if !a.is_empty() {
                    card.addresses.push(a);
                }
            }
            "BDAY" => {
                let v = unescape(&value(p)?);
                if p.param("VALUE")
                    .is_some_and(|t| t.eq_ignore_ascii_case("text"))
                {
                    card.warnings.push(format!(
                        "BDAY \"{}\" is text, not a date: left out",
                        v.trim()
                    ));
                } else {
                    match Birthday::parse(&v) {
                        Ok(b) => card.birthday = Some(b),
                        Err(e) => card.warnings.push(format!("BDAY: {e}: left out")),
                    }
                }
                if p.param("X-APPLE-OMIT-YEAR").is_some() {
                    omit_year = p.param("X-APPLE-OMIT-YEAR").map(str::to_owned);
                }
            }
            "URL" => {
                let mut types = p.types();
                let pref = pref_of(p, &mut types);
                if let Some(v) = nonempty(unescape(&value(p)?)) {
                    card.urls.push(Typed {
                        types,
                        value: v,
                        pref,
                        label: label_of(p),
                    });
                }
            }
            "CATEGORIES" => {
                let v = value(p)?;
                for c in split_unescaped(&v, ',') {
                    let c = unescape(c).trim().to_owned();
                    if !c.is_empty() && !card.categories.contains(&c) {
                        card.categories.push(c);
                    }
                }
            }
            "UID" => card.uid = nonempty(unescape(&value(p)?)),
            "PHOTO" => match photo(p) {
                Ok(Some(photo)) => card.photo = Some(photo),
                Ok(None) => {}
                Err(e) => card
                    .warnings
                    .push(format!("line {}: PHOTO {e}: left out", p.line)),
            },
            // X- properties, and the rest (LABEL, REV, PRODID, GEO, ...), are
            // not contact fields here: ignored.
            _ => {}
        }
    }
    if !version_seen {
        card.warnings
            .push("no VERSION line: read as vCard 3.0".into());
    }
    // Apple writes a birthday with no year as 1604-MM-DD plus
    // X-APPLE-OMIT-YEAR=1604.
    if let (Some(b), Some(y)) = (card.birthday.as_mut(), omit_year) {
        if b.year.map(|by| by.to_string()) == Some(y.trim().to_owned()) {
            b.year = None;
        }
    }
    // Preferred values first (a stable sort keeps the file's order otherwise).
    for list in [&mut card.emails, &mut card.phones, &mut card.urls] {
        list.sort_by_key(|t| t.pref.unwrap_or(u8::MAX));
    }
    Ok(card)
}

/// An inline photo (2.1 `ENCODING=BASE64;JPEG`, 3.0 `ENCODING=b;TYPE=JPEG`,
/// 4.0 `data:image/jpeg;base64,...`) or a link.
fn photo(p: &Property) -> Result<Option<Photo>, String> {
    let raw = String::from_utf8_lossy(&p.raw).into_owned();
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Ok(None);
    }
    let encoding = p.encoding();
    let inline = matches!(encoding.as_deref(), Some("B" | "BASE64"));
    let (media_type, data) = if inline {
        let kind = p
            .types()
            .into_iter()
            .next()
            .unwrap_or_else(|| "jpeg".into());
        let media = if kind.contains('/') {
            kind
        } else {
            format!("image/{kind}")
        };
        (media, compact)
    } else if let Some(rest) = compact.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| "is a data: URI with no data".to_owned())?;
        let media = meta
            .strip_suffix(";base64")
            .ok_or_else(|| "is a data: URI that is not base64".to_owned())?;
        (
            if media.is_empty() {
                "image/jpeg".to_owned()
            } else {
                media.to_ascii_lowercase()
            },
            data.to_owned(),
        )
    } else if compact.starts_with("http://") || compact.starts_with("https://") {
        return Ok(Some(Photo::Uri { uri: compact }));
    } else {
        return Err("is neither inline base64 nor an http(s) link".into());
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.trim_end_matches('=').to_owned() + padding(&data))
        .map_err(|e| format!("is not valid base64 ({e})"))?;
    if decoded.len() > MAX_PHOTO {
        return Err(format!(
            "is larger than {} KB ({} KB)",
            MAX_PHOTO >> 10,
            decoded.len() >> 10
        ));
    }
    // Stored re-encoded, canonical.
    Ok(Some(Photo::Data {
        media_type,
        base64: base64::engine::general_purpose::STANDARD.encode(decoded),
    }))
}

/// Padding for base64 written without it.
fn padding(data: &str) -> &'static str {
    match data.trim_end_matches('=').len() % 4 {
        2 => "==",
        3 => "=",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/import/vcard")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn ok_cards(bytes: &[u8]) -> Vec<Card> {
        cards(bytes)
            .map(|c| c.unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn typed(list: &[Typed]) -> Vec<(String, Vec<String>)> {
        list.iter()
            .map(|t| (t.value.clone(), t.types.clone()))
            .collect()
    }

    #[test]
    fn quoted_printable_decodes_bytes_and_soft_breaks() {
        assert_eq!(decode_qp(b"caf=C3=A9").unwrap(), "café".as_bytes());
        assert_eq!(decode_qp(b"a=3Db=").unwrap(), b"a=b");
        assert_eq!(decode_qp(b"=0d=0a").unwrap(), b"\r\n");
        assert!(decode_qp(b"caf=XYe").is_err());
        // A soft break across physical lines.
        let text = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:X\r\nNOTE;ENCODING=QUOTED-PRINTABLE:one =\r\ntwo=0D=0Athree\r\nEND:VCARD\r\n";
        let card = ok_cards(text.as_bytes()).remove(0);
        assert_eq!(card.note.as_deref(), Some("one two\r\nthree"));
    }

    #[test]
    fn folded_lines_unfold_with_crlf_or_lf_and_space_or_tab() {
        for text in [
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lo\r\n velace\r\nNOTE:a\n\tb\nEND:VCARD\r\n",
            "BEGIN:VCARD\nVERSION:3.0\nFN:Ada Lo\n velace\nNOTE:a\r\n\tb\r\nEND:VCARD",
        ] {
            let card = ok_cards(text.as_bytes()).remove(0);
            assert_eq!(card.formatted_name.as_deref(), Some("Ada Lovelace"));
            assert_eq!(card.note.as_deref(), Some("ab"));
        }
        // A fold inside a multi-byte character (RFC 6350 forbids it, some
        // writers do it anyway): the bytes join before decoding.
        let mut bytes = b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Jos".to_vec();
        bytes.extend_from_slice(&[0xC3, b'\r', b'\n', b' ', 0xA9]);
        bytes.extend_from_slice(b"\r\nEND:VCARD\r\n");
        assert_eq!(ok_cards(&bytes)[0].formatted_name.as_deref(), Some("José"));
    }

    #[test]
    fn escapes_and_structured_values() {
        assert_eq!(unescape(r"a\,b\;c\nd\\e\Nf"), "a,b;c\nd\\e\nf");
        assert_eq!(unescape(r"C:\temp"), r"C:\temp");
        assert_eq!(
            split_unescaped(r"a\;b;c;;d", ';'),
            vec![r"a\;b", "c", "", "d"]
        );
        let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:de la Cruz\\, Jr.;María;José,Luis;Dr.;\r\nFN:X\r\nORG:ACME\\; Inc.;R&D;Labs\r\nEND:VCARD\r\n";
        let card = ok_cards(text.as_bytes()).remove(0);
        let n = card.name.unwrap();
        assert_eq!(n.family, "de la Cruz, Jr.");
        assert_eq!(n.given, "María");
        assert_eq!(n.additional, "José Luis");
        assert_eq!(n.prefixes, "Dr.");
        assert_eq!(card.org, vec!["ACME; Inc.", "R&D", "Labs"]);
    }

    #[test]
    fn params_in_every_version_style() {
        let p = parse_property(1, b"TEL;WORK;VOICE:+1 555").unwrap();
        assert_eq!(p.types(), vec!["work", "voice"]);
        let p = parse_property(1, b"TEL;TYPE=work,voice;type=pref:+1 555").unwrap();
        assert_eq!(p.types(), vec!["work", "voice", "pref"]);
        let p = parse_property(1, b"TEL;VALUE=uri;TYPE=\"work,voice\";PREF=1:tel:+1-555").unwrap();
        assert_eq!(p.types(), vec!["work", "voice"]);
        assert_eq!(p.param("PREF"), Some("1"));
        assert_eq!(p.raw, b"tel:+1-555");
        let p = parse_property(1, b"item1.X-ABLabel:_$!<Work>!$_").unwrap();
        assert_eq!(p.group.as_deref(), Some("item1"));
        assert_eq!(p.name, "X-ABLABEL");
        let p = parse_property(1, b"NOTE;QUOTED-PRINTABLE;CHARSET=UTF-8:x").unwrap();
        assert_eq!(p.encoding().as_deref(), Some("QUOTED-PRINTABLE"));
        // A quoted parameter may hold a colon.
        let p = parse_property(1, b"EMAIL;X-LABEL=\"a:b\":x@example.com").unwrap();
        assert_eq!(p.raw, b"x@example.com");
        assert!(parse_property(1, b"no colon here").is_err());
        assert!(parse_property(1, b"BAD NAME:x").is_err());
    }

    #[test]
    fn birthdays_in_every_form() {
        for (text, want) in [
            ("19850412", "1985-04-12"),
            ("1985-04-12", "1985-04-12"),
            ("1985-04-12T00:00:00Z", "1985-04-12"),
            ("--0412", "--04-12"),
            ("--04-12", "--04-12"),
        ] {
            assert_eq!(Birthday::parse(text).unwrap().to_string(), want, "{text}");
        }
        for bad in ["1985-13-01", "--0230", "85-04-12", "April", ""] {
            assert!(Birthday::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn outlook_21_windows_1252_quoted_printable_bare_types_photo() {
        let cards = ok_cards(&fixture("outlook-2.1.vcf"));
        assert_eq!(cards.len(), 2);
        let c = &cards[0];
        assert_eq!(c.version, Version::V21);
        assert_eq!(c.formatted_name.as_deref(), Some("Jürgen Müller"));
        assert_eq!(c.name.as_ref().unwrap().family, "Müller");
        assert_eq!(c.org, vec!["Contoso GmbH", "Vertrieb"]);
        assert_eq!(
            c.note.as_deref(),
            Some("Auf der Messe getroffen.\r\nRückruf im März, wegen Angebot = 2 Lizenzen.")
        );
        assert_eq!(
            typed(&c.phones),
            vec![
                (
                    "+49 30 12345678".into(),
                    vec!["work".into(), "voice".into()]
                ),
                (
                    "+43 664 1234567".into(),
                    vec!["cell".into(), "voice".into()]
                ),
                ("+49 30 12345679".into(), vec!["work".into(), "fax".into()]),
            ]
        );
        assert_eq!(c.emails[0].value, "juergen.mueller@contoso.example");
        assert_eq!(c.emails[0].pref, Some(1));
        assert_eq!(c.addresses[0].street, "Friedrichstraße 123");
        assert_eq!(c.addresses[0].postal_code, "10117");
        assert_eq!(c.birthday.unwrap().to_string(), "1978-03-12");
        assert_eq!(c.categories, vec!["Kunden", "Messe 2026"]);
        match c.photo.as_ref().unwrap() {
            Photo::Data { media_type, base64 } => {
                assert_eq!(media_type, "image/jpeg");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(base64)
                    .unwrap();
                assert_eq!(bytes.len(), 768);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(cards[1].formatted_name.as_deref(), Some("Siobhán O'Brien"));
        assert_eq!(cards[1].line, 41);
    }

    #[test]
    fn apple_30_groups_labels_omitted_year() {
        let cards = ok_cards(&fixture("apple-3.0.vcf"));
        assert_eq!(cards.len(), 2);
        let c = &cards[0];
        assert_eq!(c.emails[1].label.as_deref(), Some("Home"));
        assert_eq!(c.phones[0].types, vec!["cell", "voice"]);
        assert_eq!(c.phones[0].pref, Some(1));
        assert_eq!(c.phones[2].label.as_deref(), Some("Other"));
        assert_eq!(c.addresses[0].locality, "Cupertino");
        assert_eq!(c.urls[0].value, "https://www.apple.example/johnny");
        let b = c.birthday.unwrap();
        assert_eq!((b.year, b.month, b.day), (None, 6, 15));
        assert_eq!(
            c.note.as_deref(),
            Some("Prefers email.\nLikes apples, pears; and plums.")
        );
        assert!(matches!(c.photo, Some(Photo::Data { .. })));
        assert_eq!(cards[1].company(), Some("Initech"));
        assert_eq!(cards[1].name, None);
    }

    #[test]
    fn vcard_40_rfc_example() {
        let cards = ok_cards(&fixture("rfc6350-4.0.vcf"));
        let c = &cards[0];
        assert_eq!(c.version, Version::V40);
        assert_eq!(c.birthday.unwrap().to_string(), "--02-03");
        assert_eq!(c.phones[0].value, "+1-418-656-9254;ext=102");
        assert_eq!(c.phones[0].types, vec!["work", "voice"]);
        assert_eq!(c.phones[1].types[1], "cell");
        assert_eq!(c.addresses[0].extended, "Suite D2-630");
        assert_eq!(c.addresses[0].locality, "Quebec");
        let y = &cards[1];
        assert_eq!(y.formatted_name.as_deref(), Some("山田 太郎"));
        // PREF=1 sorts first.
        assert_eq!(y.emails[0].value, "yamada@sample.example.jp");
        assert_eq!(
            y.note.as_deref(),
            Some("Met in Osaka; follow up, in Q1.\nSecond line.")
        );
        assert!(
            matches!(&y.photo, Some(Photo::Data { media_type, .. }) if media_type == "image/png")
        );
        assert_eq!(
            y.uid.as_deref(),
            Some("urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1")
        );
    }

    #[test]
    fn malformed_cards_are_errors_with_lines_and_the_rest_read() {
        let all: Vec<_> = cards(&fixture("malformed.vcf")[..]).collect();
        let names: Vec<String> = all
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .map(|c| c.formatted_name.clone().unwrap())
            .collect();
        assert_eq!(names, vec!["Good One", "Good Two", "Good Three"]);
        let errors: Vec<&CardError> = all.iter().filter_map(|c| c.as_ref().err()).collect();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![6, 15, 20, 24, 34]);
        assert!(errors[0].message.contains("no END:VCARD"), "{}", errors[0]);
        assert!(errors[0].message.contains("line 10"), "{}", errors[0]);
        assert!(
            errors[1].message.contains("not a vCard property"),
            "{}",
            errors[1]
        );
        assert!(errors[2].message.contains("9.9"), "{}", errors[2]);
        assert!(
            errors[3].message.contains("quoted-printable"),
            "{}",
            errors[3]
        );
        assert!(errors[4].message.contains("file ends"), "{}", errors[4]);
    }

    #[test]
    fn binary_and_oversized_input_gives_bounded_errors() {
        // Binary junk: one error for the run of lines outside a card.
        let mut junk: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        junk.extend_from_slice(b"\nBEGIN:VCARD\nVERSION:3.0\nFN:After Junk\nEND:VCARD\n");
        let all: Vec<_> = cards(&junk[..]).collect();
        assert!(all.len() <= 2, "{}", all.len());
        assert!(all[0].as_ref().unwrap_err().message.contains("not a vCard"));
        assert_eq!(
            all.last()
                .unwrap()
                .as_ref()
                .unwrap()
                .formatted_name
                .as_deref(),
            Some("After Junk")
        );
        // A single line longer than MAX_LINE is an error, not a huge buffer.
        let mut long = b"BEGIN:VCARD\nVERSION:3.0\nNOTE:".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        long.extend_from_slice(b"\nEND:VCARD\nBEGIN:VCARD\nFN:Next\nEND:VCARD\n");
        let all: Vec<_> = cards(&long[..]).collect();
        assert!(all[0].as_ref().unwrap_err().message.contains("longer than"));
        assert_eq!(
            all[1].as_ref().unwrap().formatted_name.as_deref(),
            Some("Next")
        );
    }

    #[test]
    fn unknown_charset_is_an_error_and_x_properties_are_ignored() {
        let text = "BEGIN:VCARD\nVERSION:2.1\nFN;CHARSET=klingon:x\nEND:VCARD\nBEGIN:VCARD\nVERSION:3.0\nFN:Y\nX-CUSTOM;X-PARAM=1:whatever\nX-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;Z\nEND:VCARD\n";
        let all = parse_str(text);
        assert!(all[0].as_ref().unwrap_err().message.contains("klingon"));
        assert_eq!(
            all[1].as_ref().unwrap().formatted_name.as_deref(),
            Some("Y")
        );
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    #[test]
    fn byte_order_marks_and_utf16_files() {
        let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë Ångström\r\nEND:VCARD\r\n";
        let mut utf8 = vec![0xEF, 0xBB, 0xBF];
        utf8.extend_from_slice(text.as_bytes());
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            le.extend_from_slice(&unit.to_le_bytes());
            be.extend_from_slice(&unit.to_be_bytes());
        }
        for bytes in [utf8, le, be] {
            // A tiny buffer: decoding must carry on across reads.
            let reader = std::io::BufReader::with_capacity(3, &bytes[..]);
            let all: Vec<_> = cards(reader).collect();
            assert_eq!(all.len(), 1);
            assert_eq!(
                all[0].as_ref().unwrap().formatted_name.as_deref(),
                Some("Zoë Ångström")
            );
        }
    }

    #[test]
    fn unindented_base64_of_a_21_photo_runs_to_the_blank_line() {
        let text = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Old Phone\r\nPHOTO;ENCODING=BASE64;TYPE=GIF:R0lGODlh\r\nAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==\r\n\r\nTEL;CELL:+1 650 253 0000\r\nEND:VCARD\r\n";
        let card = parse_str(text).remove(0).unwrap();
        assert!(matches!(
            &card.photo,
            Some(Photo::Data { media_type, base64 }) if media_type == "image/gif" && base64.starts_with("R0lGODlhAQAB")
        ));
        assert_eq!(card.phones[0].value, "+1 650 253 0000");
    }

    /// A reader of `n` bytes of one value, produced as asked (never held).
    struct Endless {
        left: u64,
        byte: u8,
    }

    impl std::io::Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = (buf.len() as u64).min(self.left) as usize;
            buf[..n].fill(self.byte);
            self.left -= n as u64;
            Ok(n)
        }
    }

    #[test]
    fn a_huge_file_streams_in_bounded_memory() {
        // 64 MB with no line break inside a card, then a good card: one
        // error, the good card read, and no 64 MB buffer (MAX_LINE caps it).
        let head: &[u8] = b"BEGIN:VCARD\nVERSION:3.0\nNOTE:";
        let tail: &[u8] = b"\nEND:VCARD\nBEGIN:VCARD\nVERSION:3.0\nFN:After\nEND:VCARD\n";
        let reader = std::io::BufReader::new(std::io::Read::chain(
            std::io::Read::chain(
                head,
                Endless {
                    left: 64 << 20,
                    byte: b'x',
                },
            ),
            tail,
        ));
        let all: Vec<_> = cards(reader).collect();
        assert_eq!(all.len(), 2);
        assert!(all[0].as_ref().unwrap_err().message.contains("longer than"));
        assert_eq!(
            all[1].as_ref().unwrap().formatted_name.as_deref(),
            Some("After")
        );
    }
}

#[cfg(test)]
mod oversized_tests {
    use super::*;

    #[test]
    fn an_oversized_photo_is_left_out_and_the_contact_kept() {
        // A 2 MB photo, folded at 75 octets as writers do.
        let mut text = String::from(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Big Photo\r\nPHOTO;ENCODING=b;TYPE=JPEG:",
        );
        let data = "QUJD".repeat(2 << 18);
        for chunk in data.as_bytes().chunks(74) {
            text.push_str(std::str::from_utf8(chunk).unwrap());
            text.push_str("\r\n ");
        }
        text.push_str("QUJD\r\nEMAIL:big@example.com\r\nEND:VCARD\r\n");
        let card = parse_str(&text).remove(0).unwrap();
        assert_eq!(card.formatted_name.as_deref(), Some("Big Photo"));
        assert_eq!(card.emails[0].value, "big@example.com");
        assert_eq!(card.photo, None);
        assert!(
            card.warnings[0].contains("PHOTO is larger than 1 MB"),
            "{:?}",
            card.warnings
        );
        // The same size in a NOTE refuses the card.
        let note = text.replace("PHOTO;ENCODING=b;TYPE=JPEG:", "NOTE:");
        assert!(parse_str(&note)[0]
            .as_ref()
            .unwrap_err()
            .message
            .contains("longer than"));
    }
}
