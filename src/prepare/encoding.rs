//! Stage 3, encoding: bytes of the `.tex` members to text.
//!
//! Released: UTF-8 with U+FFFD for invalid bytes, which mangles the Latin-1
//! sources common before 2005 (`Schr\xf6dinger` → `Schr�dinger`). `detect`
//! tries UTF-8 first and otherwise asks `chardetng` for the legacy encoding
//! and transcodes with `encoding_rs`, recording what it chose.

use super::validate::Member;
use crate::ledger::DropReason;
use crate::spec::data::EncodingMode;

/// One decoded `.tex` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedMember {
    pub name: String,
    /// Size of the stored bytes (the released size cap looks at bytes).
    pub raw_len: u64,
    pub text: String,
    /// WHATWG name of the encoding used (`UTF-8`, `windows-1252`, …).
    pub encoding: &'static str,
}

/// Released: invalid UTF-8 becomes U+FFFD; never fails.
pub fn decode_replace(bytes: &[u8]) -> (String, &'static str) {
    (String::from_utf8_lossy(bytes).into_owned(), encoding_rs::UTF_8.name())
}

/// UTF-8 when the bytes are valid UTF-8 (a byte-order mark decides first),
/// else the encoding `chardetng` guesses; bytes that are invalid even in the
/// guessed encoding make the member undecodable.
pub fn decode_detect(bytes: &[u8]) -> Result<(String, &'static str), DropReason> {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return decode_strict(&bytes[bom_len..], encoding);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((text.to_string(), encoding_rs::UTF_8.name()));
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    detector.feed(bytes, true);
    decode_strict(bytes, detector.guess(None, chardetng::Utf8Detection::Deny))
}

fn decode_strict(
    bytes: &[u8],
    encoding: &'static encoding_rs::Encoding,
) -> Result<(String, &'static str), DropReason> {
    encoding
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| (text.into_owned(), encoding.name()))
        .ok_or(DropReason::Undecodable)
}

/// Decodes the members validation held (those extraction reads), in archive order.
pub fn decode_members(members: &[Member], mode: EncodingMode) -> Result<Vec<DecodedMember>, DropReason> {
    members
        .iter()
        .map(|m| {
            let (text, encoding) = match mode {
                EncodingMode::Replace => decode_replace(&m.bytes),
                EncodingMode::Detect => decode_detect(&m.bytes)?,
            };
            Ok(DecodedMember { name: m.name.clone(), raw_len: m.bytes.len() as u64, text, encoding })
        })
        .collect()
}

/// The encodings of a document's members, in first-use order, joined by `+`.
pub fn encoding_label(members: &[DecodedMember]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for m in members {
        if !seen.contains(&m.encoding) {
            seen.push(m.encoding);
        }
    }
    seen.join("+")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const LATIN1: &[u8] =
        b"Die Schr\xf6dinger-Gleichung f\xfcr das Wasserstoffatom ist l\xf6sbar, sagte der M\xfcller.";

    #[rstest]
    #[case::utf8("Schrödinger".as_bytes(), "Schrödinger", "UTF-8")]
    #[case::latin1_replaced(b"Schr\xf6dinger", "Schr\u{fffd}dinger", "UTF-8")]
    fn replace_mode(#[case] bytes: &[u8], #[case] text: &str, #[case] enc: &str) {
        assert_eq!(decode_replace(bytes), (text.to_string(), enc));
    }

    #[rstest]
    #[case::utf8("Schrödinger".as_bytes(), "Schrödinger", "UTF-8")]
    #[case::utf8_bom(b"\xef\xbb\xbfab", "ab", "UTF-8")]
    #[case::latin1(
        LATIN1,
        "Die Schrödinger-Gleichung für das Wasserstoffatom ist lösbar, sagte der Müller.",
        "windows-1252"
    )]
    fn detect_mode(#[case] bytes: &[u8], #[case] text: &str, #[case] enc: &str) {
        assert_eq!(decode_detect(bytes), Ok((text.to_string(), enc)));
    }

    #[test]
    fn a_bom_that_lies_is_undecodable() {
        assert_eq!(decode_detect(b"\xef\xbb\xbfab\xff"), Err(DropReason::Undecodable));
    }

    #[test]
    fn members_are_decoded_and_labelled_in_order() {
        let members = vec![
            Member { name: "a.tex".into(), bytes: b"plain".to_vec() },
            Member { name: "b.tex".into(), bytes: LATIN1.to_vec() },
        ];
        let decoded = decode_members(&members, EncodingMode::Detect).unwrap();
        assert_eq!(decoded.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["a.tex", "b.tex"]);
        assert_eq!(encoding_label(&decoded), "UTF-8+windows-1252");
    }
}
