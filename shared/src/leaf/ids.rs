//! Identifier rules every layer relies on: what a device id, a project key, a firmware or module
//! name may look like. Anything that fails these never reaches storage or a decision.

/// Longest id, project key or firmware name accepted; longer values are not from a real device.
pub const MAX_FIELD_LEN: usize = 128;

/// Is this a plausible device id (IMEI, MAC, UID)? Printable ASCII without separators.
pub fn valid_device_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.'))
}

/// Is this a plausible project key or firmware name? Printable ASCII, no slashes or quotes.
pub fn valid_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_FIELD_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'\\' | b'"'))
}
