//! Our own protobuf declarations of the Teleport Auth Service wire subset that mwictl speaks,
//! compiled at build time; plus the raw-bytes codec and the unknown-field keeper that let a
//! resource travel through mwictl and the lab without losing fields we do not model.

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

/// Teleport's legacy `types` package (locks, roles, tokens, metadata).
pub mod types {
    include!(concat!(env!("OUT_DIR"), "/types.rs"));
}

/// Teleport's `wrappers` package (label and trait values).
pub mod wrappers {
    include!(concat!(env!("OUT_DIR"), "/wrappers.rs"));
}

/// Teleport's legacy `proto` package: `proto.AuthService` and `proto.JoinService`.
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/proto.rs"));
}

/// Teleport's versioned packages.
pub mod teleport {
    pub mod header {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/teleport.header.v1.rs"));
        }
    }
    pub mod join {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/teleport.join.v1.rs"));
        }
    }
    pub mod machineid {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/teleport.machineid.v1.rs"));
        }
    }
}

pub mod method;
pub mod raw;
pub mod unknown;

pub use teleport::machineid::v1 as machineid;

/// The compiled descriptors of every declaration above, for reflection.
pub static DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

/// The descriptor pool built from [`DESCRIPTOR_SET`], built once.
pub fn descriptor_pool() -> &'static prost_reflect::DescriptorPool {
    static POOL: std::sync::OnceLock<prost_reflect::DescriptorPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        prost_reflect::DescriptorPool::decode(DESCRIPTOR_SET)
            .expect("descriptor set compiled by build.rs decodes")
    })
}
