//! Normalising and hashing identifiers the way each platform documents it
//! (docs/audiences.md has the rules with their sources).
//!
//! Every function takes a value as stored in the hub and returns the normalised
//! text to hash (or `None` when nothing usable is left). A value that is already
//! a SHA-256 hash (64 hex digits) is returned as is, lower-cased, and [`hash`]
//! passes it through unhashed.

use md5::Md5;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::phone::{Phone, Region};

/// Lower-case hex of the SHA-256 of the UTF-8 bytes of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Lower-case hex of the MD5 of `text`: the "subscriber hash" email tools
/// (Mailchimp's API) address a member by, of the lower-cased address.
pub fn md5_hex(text: &str) -> String {
    hex(&Md5::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// 64 hex digits, any case: a SHA-256 made elsewhere.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The value to put in a file: a normalised value hashed, a hash passed through.
pub fn hash(normalised: &str) -> String {
    if is_sha256_hex(normalised) {
        normalised.to_ascii_lowercase()
    } else {
        sha256_hex(normalised)
    }
}

/// What Meta's SDKs trim: Python's `str.strip()` (Unicode whitespace and the
/// separators U+001C–U+001F), PHP's `trim()` (space, \t \n \r \0 \x0B) and
/// Java's `String.trim()` (every code point up to U+0020): together, every
/// control character up to U+0020 and every Unicode whitespace character.
fn is_meta_trimmed(c: char) -> bool {
    c <= ' ' || c.is_whitespace()
}

fn meta_trim(text: &str) -> &str {
    text.trim_matches(is_meta_trimmed)
}

/// An already hashed value, lower-cased; else `None`.
fn passthrough(text: &str) -> Option<String> {
    let t = meta_trim(text);
    is_sha256_hex(t).then(|| t.to_ascii_lowercase())
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Punctuation taken out of names: ASCII punctuation (the set of Meta's
/// parameter builder) and the typographic marks names are typed with.
fn is_name_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '\u{2018}'..='\u{201F}' // ‘ ’ ‚ ‛ “ ” „ ‟
                | '\u{2010}'..='\u{2015}' // hyphens and dashes
                | '\u{00B7}' | '\u{2022}' | '\u{2026}' // · • …
                | '\u{00AB}' | '\u{00BB}' | '\u{2039}' | '\u{203A}' // « » ‹ ›
                | '\u{00A1}' | '\u{00BF}' // ¡ ¿
        )
}

/// The place a phone number is read in: the contact's country when it is a
/// known two-letter code, else the store's default region.
pub fn region_for(country: Option<&str>, default: Region) -> Region {
    country
        .and_then(country_code)
        .and_then(|c| Region::parse(&c).ok())
        .unwrap_or(default)
}

/// Phone in E.164 (`+14155552671`). Numbers are stored in E.164, checked when
/// they were entered on whichever device, and are taken as they are; anything
/// else (text from an older import) is read again, in `region` when it has no
/// country code.
pub fn e164(number: &str, region: Region) -> Option<String> {
    let t = number.trim();
    if let Some(digits) = t.strip_prefix('+') {
        if (7..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Some(t.to_owned());
        }
    }
    Phone::parse(t, region).ok().map(|p| p.e164().to_owned())
}

/// A two-letter ISO 3166-1 code, lower-case, from a code or a common name.
pub fn country_code(text: &str) -> Option<String> {
    let letters: String = text
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let code = match letters.as_str() {
        "uk" | "greatbritain" | "unitedkingdom" | "england" | "scotland" | "wales" => "gb",
        "usa" | "unitedstates" | "unitedstatesofamerica" | "america" => "us",
        "germany" | "deutschland" => "de",
        "france" => "fr",
        "spain" | "espana" => "es",
        "italy" | "italia" => "it",
        "netherlands" | "thenetherlands" | "holland" | "nederland" => "nl",
        "belgium" => "be",
        "austria" | "osterreich" => "at",
        "switzerland" | "schweiz" | "suisse" => "ch",
        "ireland" => "ie",
        "portugal" => "pt",
        "sweden" | "sverige" => "se",
        "norway" | "norge" => "no",
        "denmark" | "danmark" => "dk",
        "finland" | "suomi" => "fi",
        "poland" | "polska" => "pl",
        "canada" => "ca",
        "mexico" => "mx",
        "brazil" | "brasil" => "br",
        "australia" => "au",
        "newzealand" => "nz",
        "india" => "in",
        "japan" => "jp",
        "china" => "cn",
        _ => letters.as_str(),
    };
    (code.len() == 2 && Region::parse(code).is_ok()).then(|| code.to_owned())
}

const US_STATES: &[(&str, &str)] = &[
    ("alabama", "al"),
    ("alaska", "ak"),
    ("arizona", "az"),
    ("arkansas", "ar"),
    ("california", "ca"),
    ("colorado", "co"),
    ("connecticut", "ct"),
    ("delaware", "de"),
    ("districtofcolumbia", "dc"),
    ("florida", "fl"),
    ("georgia", "ga"),
    ("hawaii", "hi"),
    ("idaho", "id"),
    ("illinois", "il"),
    ("indiana", "in"),
    ("iowa", "ia"),
    ("kansas", "ks"),
    ("kentucky", "ky"),
    ("louisiana", "la"),
    ("maine", "me"),
    ("maryland", "md"),
    ("massachusetts", "ma"),
    ("michigan", "mi"),
    ("minnesota", "mn"),
    ("mississippi", "ms"),
    ("missouri", "mo"),
    ("montana", "mt"),
    ("nebraska", "ne"),
    ("nevada", "nv"),
    ("newhampshire", "nh"),
    ("newjersey", "nj"),
    ("newmexico", "nm"),
    ("newyork", "ny"),
    ("northcarolina", "nc"),
    ("northdakota", "nd"),
    ("ohio", "oh"),
    ("oklahoma", "ok"),
    ("oregon", "or"),
    ("pennsylvania", "pa"),
    ("puertorico", "pr"),
    ("rhodeisland", "ri"),
    ("southcarolina", "sc"),
    ("southdakota", "sd"),
    ("tennessee", "tn"),
    ("texas", "tx"),
    ("utah", "ut"),
    ("vermont", "vt"),
    ("virginia", "va"),
    ("washington", "wa"),
    ("westvirginia", "wv"),
    ("wisconsin", "wi"),
    ("wyoming", "wy"),
];

/// Meta Custom Audiences (customer list) normalisation, one function per key.
pub mod meta {
    use super::*;

    /// EMAIL: trimmed (the SDKs' characters), lower-cased; must look like an address.
    pub fn email(raw: &str) -> Option<String> {
        if let Some(h) = passthrough(raw) {
            return Some(h);
        }
        let e = meta_trim(raw).to_lowercase();
        let (local, domain) = e.split_once('@')?;
        (!local.is_empty() && domain.contains('.') && !e.contains(char::is_whitespace)).then_some(e)
    }

    /// PHONE: from the number in E.164, the digits only: country code included,
    /// no `+`, no leading zeros.
    pub fn phone(e164: &str) -> Option<String> {
        if let Some(h) = passthrough(e164) {
            return Some(h);
        }
        let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
        non_empty(digits.trim_start_matches('0').to_owned())
    }

    /// FN / LN: lower-case, no punctuation or spaces; letters with accents are
    /// kept as they are, in UTF-8 (NFC, so "é" typed either way hashes alike).
    pub fn name(raw: &str) -> Option<String> {
        if let Some(h) = passthrough(raw) {
            return Some(h);
        }
        let s: String = raw
            .nfc()
            .flat_map(char::to_lowercase)
            .filter(|c| !is_meta_trimmed(*c) && !is_name_punctuation(*c))
            .collect();
        non_empty(s)
    }

    /// CT: a-z only, lower-case: no punctuation, digits, spaces or special characters.
    pub fn city(raw: &str) -> Option<String> {
        if let Some(h) = passthrough(raw) {
            return Some(h);
        }
        let s: String = raw
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_lowercase)
            .collect();
        non_empty(s)
    }

    /// ST: a US state as its two-letter code, lower-case (a full name is mapped);
    /// elsewhere lower-case with no punctuation, special characters or spaces.
    pub fn state(raw: &str, country: Option<&str>) -> Option<String> {
        if let Some(h) = passthrough(raw) {
            return Some(h);
        }
        let s: String = raw
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        if matches!(country, None | Some("us")) {
            if let Some((_, code)) = US_STATES.iter().find(|(name, _)| *name == s) {
                return Some((*code).to_owned());
            }
        }
        non_empty(s)
    }

    /// ZIP: lower-case, no spaces, the part before a `-`; in the US the first 5
    /// digits; in the UK area, district and sector (the postcode minus its last
    /// two characters: "SW1A 1AA" -> "sw1a1").
    pub fn zip(raw: &str, country: Option<&str>) -> Option<String> {
        if let Some(h) = passthrough(raw) {
            return Some(h);
        }
        let s: String = raw
            .to_lowercase()
            .chars()
            .filter(|c| !is_meta_trimmed(*c))
            .collect();
        let mut s = s.split('-').next().unwrap_or_default().to_owned();
        match country {
            Some("us") => s = s.chars().take(5).collect(),
            Some("gb") if s.chars().count() >= 5 => {
                s = s.chars().take(s.chars().count() - 2).collect()
            }
            _ => {}
        }
        non_empty(s)
    }

    /// COUNTRY: the two-letter ISO 3166-1 code, lower-case.
    pub fn country(raw: &str) -> Option<String> {
        passthrough(raw).or_else(|| country_code(raw))
    }

    /// GEN: `m` or `f`.
    pub fn gender(raw: &str) -> Option<String> {
        if let Some(h) = passthrough(raw) {
            return Some(h);
        }
        match meta_trim(raw).to_lowercase().as_str() {
            "m" | "male" | "man" | "mann" | "männlich" | "homme" => Some("m".into()),
            "f" | "female" | "woman" | "w" | "frau" | "weiblich" | "femme" => Some("f".into()),
            _ => None,
        }
    }

    /// DOBY / DOBM / DOBD from an ISO birthday (`1985-04-12`, or `--04-12`
    /// without the year): `YYYY` (1900 to this year), `MM`, `DD`.
    pub fn birthday(raw: &str, this_year: i32) -> [Option<String>; 3] {
        let t = meta_trim(raw);
        let (year, rest) = match t.strip_prefix("--") {
            Some(rest) => (None, rest),
            None => match t.split_once('-') {
                Some((y, rest)) => (Some(y), rest),
                None => return [None, None, None],
            },
        };
        let Some((month, day)) = rest.split_once('-') else {
            return [None, None, None];
        };
        let number = |s: &str, lo: i32, hi: i32| {
            (s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<i32>().ok())
                .flatten()
                .filter(|n| (lo..=hi).contains(n))
        };
        let (Some(m), Some(d)) = (number(month, 1, 12), number(day, 1, 31)) else {
            return [None, None, None];
        };
        let y = year.and_then(|y| number(y, 1900, this_year));
        [
            y.map(|y| format!("{y:04}")),
            Some(format!("{m:02}")),
            Some(format!("{d:02}")),
        ]
    }
}

/// Google Ads Customer Match normalisation.
pub mod google {
    use super::*;

    /// Email: no whitespace anywhere, lower-case.
    pub fn email(raw: &str) -> Option<String> {
        if let Some(h) = passthrough(raw) {
            return Some(h);
        }
        let e: String = raw
            .chars()
            .filter(|c| !is_meta_trimmed(*c))
            .flat_map(char::to_lowercase)
            .collect();
        let (local, domain) = e.split_once('@')?;
        (!local.is_empty() && domain.contains('.')).then_some(e)
    }

    /// Phone: E.164 with its `+`.
    pub fn phone(e164: &str) -> Option<String> {
        if let Some(h) = passthrough(e164) {
            return Some(h);
        }
        let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
        let digits = digits.trim_start_matches('0');
        (!digits.is_empty()).then(|| format!("+{digits}"))
    }

    /// First / Last Name: trimmed, lower-case (accents kept, NFC).
    pub fn name(raw: &str) -> Option<String> {
        if let Some(h) = passthrough(raw) {
            return Some(h);
        }
        non_empty(raw.trim().nfc().flat_map(char::to_lowercase).collect())
    }

    /// Country: the two-letter ISO code, upper-case as in Google's template; not hashed.
    pub fn country(raw: &str) -> Option<String> {
        country_code(raw).map(|c| c.to_ascii_uppercase())
    }

    /// Zip: as written, trimmed (US 5 or 5+4 digits and international codes are
    /// accepted); not hashed.
    pub fn zip(raw: &str) -> Option<String> {
        non_empty(raw.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// The key an email tool knows a member by: MD5 of the trimmed, lower-cased address.
pub fn subscriber_hash(email: &str) -> String {
    md5_hex(&email.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    //! Expected hashes are `sha256sum` of the normalised text written out by
    //! hand (`printf '%s' 'john.doe@example.com' | sha256sum`), never computed
    //! with the code under test; [`check`] also hashes the hand-written text
    //! with the sha2 crate directly, so a wrong literal cannot pass.
    use super::*;

    const THIS_YEAR: i32 = 2026;

    fn region(code: &str) -> Region {
        Region::parse(code).unwrap()
    }

    /// `normalised` is what the platform's rule gives, written by hand;
    /// `sha` its SHA-256 from `sha256sum`.
    fn check(got: Option<String>, normalised: &str, sha: &str) {
        assert_eq!(got.as_deref(), Some(normalised));
        assert_eq!(hex(&Sha256::digest(normalised.as_bytes())), sha);
        assert_eq!(hash(got.as_deref().unwrap()), sha);
    }

    #[test]
    fn metas_published_example() {
        let got = meta::email(" John.Doe@Example.COM ");
        assert_eq!(
            got.as_deref().map(hash).as_deref(),
            Some("836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f")
        );
    }

    #[test]
    fn meta_vectors() {
        let meta_email = [
            (
                " John.Doe@Example.COM ",
                "john.doe@example.com",
                "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
            ),
            // Tabs, a no-break space and a NUL: what the SDKs trim.
            (
                "\tADA@Example.org\u{a0}\0",
                "ada@example.org",
                "cfe00dde46ef942601ffafb9e2825e802858b460e586b8305b344c1eb826357d",
            ),
        ];
        for (raw, normalised, sha) in meta_email {
            check(meta::email(raw), normalised, sha);
        }
        // Phones: national numbers read in the region, international ones as dialled.
        let phones = [
            ("(415) 555-2671", "US", "14155552671"),
            ("+1 415-555-2671", "GB", "14155552671"),
            ("020 7946 0018", "GB", "442079460018"),
            ("0044 20 7946 0018", "DE", "442079460018"),
            ("030 901820", "DE", "4930901820"),
        ];
        for (raw, r, digits) in phones {
            let e = e164(raw, region(r)).unwrap();
            assert_eq!(meta::phone(&e).as_deref(), Some(digits), "{raw} in {r}");
        }
        check(
            meta::phone("+14155552671"),
            "14155552671",
            "758fbf68945f21c416814c539ab578876c8d98fb69e6da692def92cd52417fe0",
        );
        check(
            meta::name("  Valéry "),
            "valéry",
            "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c",
        );
        // Decomposed e + combining acute is the same name.
        assert_eq!(meta::name("Vale\u{301}ry").as_deref(), Some("valéry"));
        check(
            meta::name("O’Brien-Smith"),
            "obriensmith",
            "16765783f9c8c8a3accf27f1abb877688cb5904c21a4a7afb5f125bcfcb246ba",
        );
        check(
            meta::city("San Francisco"),
            "sanfrancisco",
            "1a6bd4d9d79dc0a79b53795c70d3349fa9e38968a3fbefbfe8783efb1d2b6aac",
        );
        check(
            meta::state("California", Some("us")),
            "ca",
            "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126",
        );
        check(
            meta::zip("94103-1234", Some("us")),
            "94103",
            "91dc2519ea98c5002cf2091e6a12b772eafdce9dca618e626d7d3b8275361789",
        );
        assert_eq!(meta::zip("SW1A 1AA", Some("gb")).as_deref(), Some("sw1a1"));
        assert_eq!(meta::zip(" 10115 ", Some("de")).as_deref(), Some("10115"));
        check(
            meta::country("United States"),
            "us",
            "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
        );
        assert_eq!(meta::country("DE").as_deref(), Some("de"));
        assert_eq!(meta::country("Atlantis"), None);
        check(
            meta::gender("Female"),
            "f",
            "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111",
        );
        assert_eq!(
            meta::birthday("1985-04-07", THIS_YEAR),
            [Some("1985".into()), Some("04".into()), Some("07".into())]
        );
        assert_eq!(
            meta::birthday("--12-31", THIS_YEAR),
            [None, Some("12".into()), Some("31".into())]
        );
        assert_eq!(meta::birthday("1850-01-01", THIS_YEAR)[0], None);
        assert_eq!(meta::birthday("nonsense", THIS_YEAR), [None, None, None]);
    }

    #[test]
    fn already_hashed_values_pass_through() {
        let h = "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f";
        let upper = h.to_ascii_uppercase();
        for got in [
            meta::email(&format!(" {upper} ")),
            meta::phone(h),
            meta::name(h),
            meta::city(h),
            meta::zip(h, Some("us")),
            google::email(h),
            google::phone(h),
            google::name(h),
        ] {
            assert_eq!(got.as_deref().map(hash).as_deref(), Some(h));
        }
    }

    #[test]
    fn google_vectors() {
        check(
            google::email(" John.Doe @Example.COM "),
            "john.doe@example.com",
            "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
        );
        check(
            google::phone(&e164("(415) 555-2671", region("US")).unwrap()),
            "+14155552671",
            "cb6880e416769253645cb9c6b8989154bf66a56a77fc14c81fb1019663cbb928",
        );
        check(
            google::name("  José "),
            "josé",
            "d994e1d001886fe5b45b1267bd1fa2b752ac50742579bd3dad7b2a2aa0ed6866",
        );
        assert_eq!(google::country("us").as_deref(), Some("US"));
        assert_eq!(google::zip(" 94103-1234 ").as_deref(), Some("94103-1234"));
    }

    #[test]
    fn subscriber_hash_is_md5_of_the_lower_cased_address() {
        // printf '%s' 'ada@example.org' | md5sum
        assert_eq!(
            subscriber_hash(" Ada@Example.org "),
            "5bfcf2d8e394674550332640d72db509"
        );
    }
}
