//! Phone numbers, normalised to E.164 with libphonenumber's metadata (the
//! `phonenumber` crate). Numbers typed without a country code are read in the
//! store's default region.

use std::fmt;

use phonenumber::country;
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
        let number = phonenumber::parse(Some(region.0), text)
            .map_err(|_| format!("\"{text}\" is not a phone number"))?;
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
    fn rejects_garbage_and_impossible_numbers() {
        for bad in ["", "hello", "123", "+1 000 000 0000", "+999 123456"] {
            assert!(Phone::parse(bad, region("US")).is_err(), "{bad:?} accepted");
        }
        assert!(Region::parse("XX").is_err());
        assert!(Region::parse("usa").is_err());
    }
}
