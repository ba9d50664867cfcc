//! Test helpers shared by the CLI's unit tests: deterministic mutations of sample inputs, the
//! stable-toolchain companion of the fuzz targets in fuzz/ (one generator, in mwi-diag).

pub(crate) use mwi_diag::testing::{for_each_byte_mutation, for_each_mutation};
