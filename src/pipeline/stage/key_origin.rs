//! Where a key was first seen, and what a second sighting of it is: shared by the in-memory key
//! check ([`super::key_checks`]) and its spilled form ([`super::digest_spill`]).

/// Where a line was read: an index into [`super::key_checks::KeyDigests`]' file names, and the
/// line number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Origin {
    pub file: u32,
    pub line: u32,
}

/// What a key digest remembers: a digest of the exact key (to tell an exact repeat from a
/// trailing-blank twin) and where the key was first seen. 16 bytes, beside the 16-byte digest.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seen {
    pub exact: u64,
    pub origin: Origin,
}

/// A second sighting of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyClash {
    /// The same key again.
    Repeated { first: Origin },
    /// A key equal to an earlier one once trailing blanks are dropped.
    BlankTwin { first: Origin },
}

/// What a second key with `seen`'s compared digest and `exact` digest is.
pub(super) fn clash_of(seen: &Seen, exact: u64) -> KeyClash {
    if seen.exact == exact {
        KeyClash::Repeated { first: seen.origin }
    } else {
        KeyClash::BlankTwin { first: seen.origin }
    }
}
