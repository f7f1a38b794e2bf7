//! Phone numbers, normalised to E.164 with libphonenumber's metadata (the
//! `phonenumber` crate). Numbers typed without a country code are read in the
//! store's default region.

use std::fmt;

use phonenumber::country::{self, Source};
use phonenumber::Mode;

use crate::error::{Error, Result};

/// An ISO 3166 region whose numbering plan reads national numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(country::Id);

impl Default for Region {
    fn default() -> Self {
        Region(country::Id::US)
    }
}

impl Region {
    pub fn parse(code: &str) -> Result<Region> {
        let upper = code.trim().to_uppercase();
        upper.parse::<country::Id>().map(Region).map_err(|_| {
            Error::invalid(
                "default_region",
                format!("\"{code}\" is not a two-letter region code such as US, GB or DE"),
            )
        })
    }

    pub fn code(&self) -> String {
        self.0.as_ref().to_owned()
    }
}

/// A valid number in E.164 form (`+14155552671`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    e164: String,
}

impl Phone {
    pub fn parse(input: &str, region: Region) -> Result<Phone, String> {
        let text = input.trim();
        if text.is_empty() {
            return Err("Enter a phone number".into());
        }
        let not_a_number = || format!("\"{text}\" is not a phone number");
        let mut number = phonenumber::parse(Some(region.0), text).map_err(|_| not_a_number())?;
        // A number dialled internationally (+49 151 …, 011 49 151 …) must not
        // be read with the default region's rules: phonenumber 0.3 strips that
        // region's national prefix from it too, so with US as the region
        // "+49 151 23456789" lost its "1". Read it again as +CC… without one.
        if matches!(number.code().source(), Source::Plus | Source::Idd) {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            let cc = number.code().value().to_string();
            // Where the country code starts: after the "+", or after the
            // international prefix (00, 011, 0011, …).
            let international = (0..=4)
                .filter(|i| digits.get(*i..).is_some_and(|d| d.starts_with(&cc)))
                .find_map(|i| phonenumber::parse(None, format!("+{}", &digits[i..])).ok())
                .filter(phonenumber::is_valid);
            if let Some(international) = international {
                number = international;
            }
        }
        if !phonenumber::is_valid(&number) {
            return Err(format!(
                "\"{text}\" is not a valid phone number (read in region {}; add the country code, e.g. +44)",
                region.code()
            ));
        }
        Ok(Phone {
            e164: number.format().mode(Mode::E164).to_string(),
        })
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str) -> Region {
        Region::parse(code).unwrap()
    }

    #[test]
    fn national_numbers_use_the_default_region() {
        assert_eq!(
            Phone::parse("(415) 555-2671", region("US")).unwrap().e164(),
            "+14155552671"
        );
        assert_eq!(
            Phone::parse("020 7946 0018", region("GB")).unwrap().e164(),
            "+442079460018"
        );
        assert_eq!(
            Phone::parse("030 901820", region("DE")).unwrap().e164(),
            "+4930901820"
        );
    }

    #[test]
    fn international_numbers_ignore_the_default_region() {
        assert_eq!(
            Phone::parse("+44 20 7946 0018", region("US"))
                .unwrap()
                .e164(),
            "+442079460018"
        );
        assert_eq!(
            Phone::parse("+1-415-555-2671", region("GB"))
                .unwrap()
                .e164(),
            "+14155552671"
        );
    }

    #[test]
    fn international_numbers_keep_every_digit_whatever_the_region() {
        // The default region's national prefix ("1" in the US, "0" in GB)
        // must never be taken off a number dialled with its country code.
        for (typed, region_code, e164) in [
            ("+49 151 23456789", "US", "+4915123456789"),
            ("011 49 151 23456789", "US", "+4915123456789"),
            ("+353 1 679 4000", "US", "+35316794000"),
            ("00 49 151 23456789", "GB", "+4915123456789"),
            ("+39 06 6982 1234", "GB", "+390669821234"),
            ("0039 06 6982 1234", "DE", "+390669821234"),
            ("+1 415 555 2671", "US", "+14155552671"),
            ("+44 7911 123456", "GB", "+447911123456"),
        ] {
            assert_eq!(
                Phone::parse(typed, region(region_code)).map(|p| p.e164().to_owned()),
                Ok(e164.to_owned()),
                "{typed} in {region_code}"
            );
        }
    }

    #[test]
    fn rejects_garbage_and_impossible_numbers() {
        for bad in ["", "hello", "123", "+1 000 000 0000", "+999 123456"] {
            assert!(Phone::parse(bad, region("US")).is_err(), "{bad:?} accepted");
        }
        assert!(Region::parse("XX").is_err());
        assert!(Region::parse("usa").is_err());
    }
}
