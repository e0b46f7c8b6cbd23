//! Layout rules and the limits of the object layer.

use crate::{ObjectError, Result};

/// Bytes of object data per erasure block.
pub const BLOCK_SIZE_BYTES: usize = 1 << 20;
/// Objects up to this many bytes are stored inside `xl.meta` (one write per drive).
pub const INLINE_BYTES_MAX: usize = 128 << 10;
/// Smallest part (other than the last) a multipart upload accepts, as S3.
pub const PART_SIZE_BYTES_MIN: u64 = 5 << 20;
/// Largest part number, as S3.
pub const PARTS_MAX: u32 = 10_000;
/// Largest object, as S3: 5 TiB.
pub const OBJECT_SIZE_BYTES_MAX: u64 = 5 << 40;
/// Smallest and largest erasure set.
pub const SET_DRIVES_MIN: usize = 1;
/// Largest erasure set.
pub const SET_DRIVES_MAX: usize = 16;

/// Default parity for a set of `drives` drives (DESIGN.md): 1 -> 0, 2-3 -> 1, 4-5 -> 2, 6-7 -> 3, 8-16 -> 4.
pub fn parity_for_set_size(drives: usize) -> usize {
    match drives {
        0 | 1 => 0,
        2 | 3 => 1,
        4 | 5 => 2,
        6 | 7 => 3,
        _ => 4,
    }
}

/// How drives are grouped into erasure sets and how each set is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Number of erasure sets.
    pub sets: usize,
    /// Drives per set (k + m).
    pub drives_per_set: usize,
    /// Parity shards per object (m).
    pub parity: usize,
}

impl Layout {
    /// Chooses a layout for `drive_count` drives: one set when it fits in 16 drives,
    /// otherwise the largest set size <= 16 that divides the count evenly.
    /// `parity_override` is the `EC:n` storage class, if set.
    pub fn for_drives(drive_count: usize, parity_override: Option<usize>) -> Result<Self> {
        if drive_count == 0 {
            return Err(ObjectError::InvalidArgument("at least one drive is needed".into()));
        }
        let drives_per_set = (SET_DRIVES_MIN..=SET_DRIVES_MAX.min(drive_count))
            .rev()
            .find(|size| drive_count.is_multiple_of(*size) && (*size > 1 || drive_count == 1))
            .ok_or_else(|| {
                ObjectError::InvalidArgument(format!(
                    "{drive_count} drives cannot be split into equal erasure sets of 2 to 16 drives; use a multiple of a size between 2 and 16"
                ))
            })?;
        let parity = parity_override.unwrap_or_else(|| parity_for_set_size(drives_per_set));
        if drives_per_set > 1 && (parity == 0 && parity_override.is_none() || parity > drives_per_set / 2) {
            return Err(ObjectError::InvalidArgument(format!(
                "parity EC:{parity} does not fit a set of {drives_per_set} drives; use EC:1 to EC:{}",
                drives_per_set / 2
            )));
        }
        if drives_per_set == 1 && parity != 0 {
            return Err(ObjectError::InvalidArgument("a single drive cannot hold parity; use EC:0".into()));
        }
        Ok(Self { sets: drive_count / drives_per_set, drives_per_set, parity })
    }

    /// Data shards per object (k).
    pub fn data(&self) -> usize {
        self.drives_per_set - self.parity
    }

    /// Drives that must agree for a read: k.
    pub fn read_quorum(&self) -> usize {
        self.data()
    }

    /// Drives that must commit a write: k, or k + 1 when k == m (so two halves cannot both win).
    pub fn write_quorum(&self) -> usize {
        if self.data() == self.parity { self.data() + 1 } else { self.data() }
    }
}

/// Parses a storage class value such as `EC:2`.
pub fn parse_storage_class(value: &str) -> Result<usize> {
    value
        .trim()
        .strip_prefix("EC:")
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or_else(|| ObjectError::InvalidArgument(format!("storage class {value:?} is not of the form EC:<parity>")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layouts() {
        let four = Layout::for_drives(4, None).expect("valid");
        assert_eq!(
            (four.sets, four.drives_per_set, four.parity, four.write_quorum(), four.read_quorum()),
            (1, 4, 2, 3, 2)
        );
        let three = Layout::for_drives(3, None).expect("valid");
        assert_eq!((three.parity, three.write_quorum(), three.read_quorum()), (1, 2, 2));
        let one = Layout::for_drives(1, None).expect("valid");
        assert_eq!((one.parity, one.write_quorum()), (0, 1));
        let many = Layout::for_drives(32, None).expect("valid");
        assert_eq!((many.sets, many.drives_per_set, many.parity), (2, 16, 4));
        assert!(Layout::for_drives(17, None).is_err());
        assert!(Layout::for_drives(4, Some(3)).is_err());
        assert_eq!(Layout::for_drives(4, Some(1)).expect("valid").write_quorum(), 3);
        assert_eq!(parse_storage_class("EC:2").expect("valid"), 2);
        assert!(parse_storage_class("RRS").is_err());
    }
}
