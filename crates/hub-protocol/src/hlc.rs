//! Hybrid logical clock (HLC): wall-clock milliseconds, a counter for events in
//! the same millisecond (or while the wall clock lags a clock we have seen), and
//! the device id as the final tie-breaker. Every clock is unique per device and
//! totally ordered, so "the higher clock wins" is a deterministic merge rule.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A device (one installation of the app or CLI on one database file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub Uuid);

impl DeviceId {
    pub fn random() -> Self {
        DeviceId(Uuid::new_v4())
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

impl FromStr for DeviceId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(DeviceId)
    }
}

/// One timestamp of the hybrid logical clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch.
    pub ms: u64,
    pub counter: u32,
    pub device: DeviceId,
}

impl Ord for Hlc {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ms, self.counter, self.device).cmp(&(other.ms, other.counter, other.device))
    }
}

impl PartialOrd for Hlc {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Text form: fixed-width fields, so that comparing two strings gives the same
/// order as comparing the clocks (SQLite can `max()` and sort them as text).
/// `000001732885200000-00000-<32 hex device>`
impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:015}-{:05}-{}", self.ms, self.counter, self.device)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed hybrid logical clock {0:?}")]
pub struct HlcParseError(pub String);

impl FromStr for Hlc {
    type Err = HlcParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || HlcParseError(s.to_owned());
        let mut parts = s.splitn(3, '-');
        let (ms, counter, device) = (
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
        );
        if ms.len() != 15 || counter.len() != 5 || device.len() != 32 {
            return Err(bad());
        }
        Ok(Hlc {
            ms: ms.parse().map_err(|_| bad())?,
            counter: counter.parse().map_err(|_| bad())?,
            device: device.parse().map_err(|_| bad())?,
        })
    }
}

impl Serialize for Hlc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The clock of one device. `now` stamps a local event; `observe` folds in a
/// clock received from elsewhere so that later local events sort after it.
#[derive(Debug, Clone)]
pub struct HlcClock {
    device: DeviceId,
    last_ms: u64,
    last_counter: u32,
}

impl HlcClock {
    pub fn new(device: DeviceId) -> Self {
        HlcClock {
            device,
            last_ms: 0,
            last_counter: 0,
        }
    }

    /// Resume from the highest clock this device has issued or seen, so a
    /// restart never issues a clock lower than one already stored.
    pub fn resume(device: DeviceId, last: Option<Hlc>) -> Self {
        let mut clock = Self::new(device);
        if let Some(last) = last {
            clock.last_ms = last.ms;
            clock.last_counter = last.counter;
        }
        clock
    }

    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The highest clock issued or observed so far (what [`HlcClock::resume`] takes).
    pub fn state(&self) -> Hlc {
        Hlc {
            ms: self.last_ms,
            counter: self.last_counter,
            device: self.device,
        }
    }

    /// A new clock for a local event, given the wall time in ms.
    pub fn now(&mut self, wall_ms: u64) -> Hlc {
        if wall_ms > self.last_ms {
            self.last_ms = wall_ms;
            self.last_counter = 0;
        } else {
            self.last_counter += 1;
        }
        Hlc {
            ms: self.last_ms,
            counter: self.last_counter,
            device: self.device,
        }
    }

    /// Receive rule: after observing `remote`, every later `now` is above it.
    pub fn observe(&mut self, remote: Hlc, wall_ms: u64) {
        let max_ms = wall_ms.max(self.last_ms).max(remote.ms);
        let counter = if max_ms == self.last_ms && max_ms == remote.ms {
            self.last_counter.max(remote.counter)
        } else if max_ms == self.last_ms {
            self.last_counter
        } else if max_ms == remote.ms {
            remote.counter
        } else {
            0
        };
        // Store as "last issued" so the next `now` increments past it.
        self.last_ms = max_ms;
        self.last_counter = counter;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dev(n: u8) -> DeviceId {
        DeviceId(Uuid::from_bytes([n; 16]))
    }

    #[test]
    fn text_form_round_trips_and_sorts_like_the_clock() {
        let a = Hlc {
            ms: 1_732_885_200_000,
            counter: 7,
            device: dev(1),
        };
        let text = a.to_string();
        assert_eq!(text.len(), 15 + 1 + 5 + 1 + 32);
        assert_eq!(text.parse::<Hlc>().unwrap(), a);
        assert!("garbage".parse::<Hlc>().is_err());
        assert!("000000000000001-00001-xyz".parse::<Hlc>().is_err());
    }

    #[test]
    fn same_millisecond_increments_the_counter() {
        let mut c = HlcClock::new(dev(1));
        let a = c.now(1000);
        let b = c.now(1000);
        let d = c.now(999); // wall clock stepped back
        assert!(a < b && b < d);
        assert_eq!(d.ms, 1000);
    }

    #[test]
    fn observe_moves_past_a_clock_from_the_future() {
        let mut c = HlcClock::new(dev(1));
        let remote = Hlc {
            ms: 5000,
            counter: 3,
            device: dev(2),
        };
        c.observe(remote, 1000);
        let next = c.now(1000);
        assert!(next > remote);
    }

    proptest! {
        #[test]
        fn clocks_are_strictly_increasing(
            steps in proptest::collection::vec((0u64..10_000, proptest::option::of((0u64..10_000, 0u32..10))), 1..200)
        ) {
            let mut c = HlcClock::new(dev(1));
            let mut last: Option<Hlc> = None;
            for (wall, remote) in steps {
                if let Some((ms, counter)) = remote {
                    let r = Hlc { ms, counter, device: dev(2) };
                    c.observe(r, wall);
                    let next = c.now(wall);
                    prop_assert!(next > r);
                    if let Some(l) = last { prop_assert!(next > l); }
                    last = Some(next);
                } else {
                    let next = c.now(wall);
                    if let Some(l) = last { prop_assert!(next > l); }
                    prop_assert_eq!(next.to_string().cmp(&last.map(|l| l.to_string()).unwrap_or_default()), std::cmp::Ordering::Greater);
                    last = Some(next);
                }
            }
        }
    }
}
