//! Email addresses, checked at the edge: nothing invalid reaches the store.

use std::fmt;
use std::str::FromStr;

use email_address::EmailAddress;

/// A syntactically valid address with a dotted domain, trimmed, with the
/// domain lower-cased (the local part is kept as typed: it may be
/// case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, String> {
        let text = input.trim();
        if text.is_empty() {
            return Err("Enter an email address".into());
        }
        let parsed = EmailAddress::from_str(text)
            .map_err(|_| format!("\"{text}\" is not a valid email address"))?;
        let (local, domain) = (parsed.local_part(), parsed.domain());
        let dotted = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.starts_with('[');
        if !dotted || text.contains(char::is_whitespace) || text.starts_with('"') {
            return Err(format!("\"{text}\" is not a valid email address"));
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises_real_addresses() {
        assert_eq!(
            Email::parse("  Ada.Lovelace@Example.COM ")
                .unwrap()
                .as_str(),
            "Ada.Lovelace@example.com"
        );
        assert!(Email::parse("first+tag@sub.example.co.uk").is_ok());
        assert!(Email::parse("o'brien@example.ie").is_ok());
    }

    #[test]
    fn rejects_what_a_person_would_call_a_typo() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "ada lovelace@example.com",
            "ada@example..com",
            "ada@.example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
