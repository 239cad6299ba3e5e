//! Version comparison with each package ecosystem's own rules. Versions are never compared as
//! plain strings, because `1.10` is newer than `1.9` and epochs outrank everything else.

pub mod apk;
pub mod dpkg;
pub mod freebsd;
pub mod pacman;
pub mod rpm;
