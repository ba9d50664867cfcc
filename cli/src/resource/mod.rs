//! Resources in tctl's YAML/JSON shape (kind, version, metadata, spec), converted to and from
//! the wire messages.
