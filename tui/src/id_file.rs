//! A list of device ids on the operator's disk, as `fota device import` reads it: a CSV export
//! (the first column; quoted cells; a header line) or one id per line (blank lines and `#`
//! comments). Each id is checked with the edge's own rule (`valid_device_id`), so nothing the
//! server would refuse is sent, and every id keeps the line it came from for the report.

use std::collections::HashSet;

use fota_shared::leaf::ids::valid_device_id;
use serde::Serialize;

/// Column names that are also valid device ids: no device is called `imei`, so a first line
/// with one is a header, and a later one (two exports pasted together) is reported.
const HEADER_NAMES: &[&str] = &[
    "id",
    "ids",
    "imei",
    "mac",
    "uid",
    "sn",
    "serial",
    "device",
    "device_id",
    "deviceid",
    "device-id",
];

/// What a file holds, in the order it lists the ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IdList {
    /// Valid ids, each once, in the order they first appear.
    pub ids: Vec<String>,
    /// First cells that are not device ids.
    pub invalid: Vec<Cell>,
    /// Ids listed again after their first line (ignored).
    pub duplicates: usize,
    /// The first row's first cell, when the row was read as a header and skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Cell>,
}

/// A row's first cell and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// 1-based line of the file the row starts on.
    pub line: u64,
    /// The cell as read (not UTF-8: with replacement characters).
    pub text: String,
}

/// Reads an id list. A UTF-8 byte order mark (spreadsheet exports write one) is skipped, as are
/// blank lines, lines starting with `#` and rows whose cells are all empty; each row's first
/// cell is trimmed. The first row is a header when its first cell is not a device id (not valid,
/// or a column name such as `imei`).
pub fn read_ids(bytes: &[u8]) -> IdList {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut list = IdList::default();
    let mut seen = HashSet::new();
    let mut first = true;
    let mut record = csv::ByteRecord::new();
    // Reading from memory fails only on a row the parser cannot frame; it has none (flexible
    // rows, no UTF-8 check on bytes), so the loop ends at the end of the file.
    while reader.read_byte_record(&mut record).unwrap_or(false) {
        if record.iter().all(<[u8]>::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |at| line_of(bytes, at));
        let cell = record.get(0).unwrap_or_default();
        // A comment indented with spaces: the parser only knows `#` in the first column.
        if cell.starts_with(b"#") {
            continue;
        }
        let text = device_id(cell);
        if std::mem::take(&mut first) && text.is_none() {
            list.header = Some(Cell {
                line,
                text: String::from_utf8_lossy(cell).into_owned(),
            });
            continue;
        }
        match text {
            Some(id) if seen.insert(id.to_string()) => list.ids.push(id.to_string()),
            Some(_) => list.duplicates += 1,
            None => list.invalid.push(Cell {
                line,
                text: String::from_utf8_lossy(cell).into_owned(),
            }),
        }
    }
    list
}

/// The line a record's first cell is on. The parser places a record where it started reading
/// it, which is before the blank and comment lines it skipped on the way; those are counted here.
fn line_of(bytes: &[u8], at: &csv::Position) -> u64 {
    let mut rest = bytes.get(at.byte() as usize..).unwrap_or_default();
    let mut line = at.line();
    loop {
        let skipped = match rest.first() {
            Some(b'\r') if rest.get(1) == Some(&b'\n') => 2,
            Some(b'\r' | b'\n') => 1,
            Some(b'#') => rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |end| end + 1),
            _ => return line,
        };
        rest = &rest[skipped..];
        line += 1;
    }
}

/// The cell as a device id: valid by the edge's rule, and not a column name.
fn device_id(cell: &[u8]) -> Option<&str> {
    std::str::from_utf8(cell)
        .ok()
        .filter(|text| valid_device_id(text))
        .filter(|id| {
            !HEADER_NAMES
                .iter()
                .any(|name| id.eq_ignore_ascii_case(name))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell: an invalid id, or a header.
    fn invalid(line: u64, text: &str) -> Cell {
        Cell {
            line,
            text: text.to_string(),
        }
    }

    #[track_caller]
    fn check(file: &str, ids: &[&str], invalid: &[Cell], duplicates: usize) {
        let list = read_ids(file.as_bytes());
        assert_eq!(list.ids, ids, "ids of {file:?}");
        assert_eq!(list.invalid, invalid, "invalid ids of {file:?}");
        assert_eq!(list.duplicates, duplicates, "duplicates of {file:?}");
    }

    #[test]
    fn one_id_per_line_skips_blank_lines_and_comments() {
        check(
            "862419074072389\n862419074072390\n",
            &["862419074072389", "862419074072390"],
            &[],
            0,
        );
        check(
            "# production batch 7\n\n862419074072389\n   \n  # indented note\n\t862419074072390  \r\n",
            &["862419074072389", "862419074072390"],
            &[],
            0,
        );
        // No newline at the end, Windows line ends, MAC and UID spellings.
        check(
            "aa:bb:cc:dd:ee:ff\r\nuid_0042.A-1",
            &["aa:bb:cc:dd:ee:ff", "uid_0042.A-1"],
            &[],
            0,
        );
        check("", &[], &[], 0);
        check("# nothing but a note\n\n", &[], &[], 0);
    }

    #[test]
    fn a_csv_gives_its_first_column_and_skips_its_header() {
        let csv = "IMEI,model,site\n862419074072389,Air780E,Lyon\n862419074072390,Air780E,\"Nantes, quai 3\"\n";
        check(csv, &["862419074072389", "862419074072390"], &[], 0);
        assert_eq!(read_ids(csv.as_bytes()).header, Some(invalid(1, "IMEI")));
        // A header whose first cell is not an id at all.
        check(
            "device id;model\n862419074072389\n",
            &["862419074072389"],
            &[],
            0,
        );
        // No header: the first line is an id.
        let list = read_ids(b"862419074072389,a\n862419074072390,b\n");
        assert_eq!((list.ids.len(), list.header), (2, None));
        // Only the first line can be a header; a later one (two exports pasted together) is
        // reported with its line.
        check(
            "imei\n862419074072389\nIMEI\n862419074072390\n",
            &["862419074072389", "862419074072390"],
            &[invalid(3, "IMEI")],
            0,
        );
    }

    #[test]
    fn quoted_cells_are_read_as_their_text() {
        check(
            "\"imei\",\"note\"\n\"862419074072389\",\"first, \"\"gold\"\" unit\"\n\" 862419074072390 \",x\n",
            &["862419074072389", "862419074072390"],
            &[],
            0,
        );
        // A quoted cell spanning lines: the next row's line number is still right.
        check(
            "id,note\n1001,\"two\nlines\"\nbad/id,x\n",
            &["1001"],
            &[invalid(4, "bad/id")],
            0,
        );
    }

    #[test]
    fn a_byte_order_mark_does_not_hide_the_first_id() {
        check(
            "\u{feff}862419074072389\n862419074072390\n",
            &["862419074072389", "862419074072390"],
            &[],
            0,
        );
        let list = read_ids("\u{feff}imei,x\n862419074072389,y\n".as_bytes());
        assert_eq!(
            (list.ids, list.header),
            (
                vec!["862419074072389".to_string()],
                Some(invalid(1, "imei"))
            )
        );
    }

    #[test]
    fn duplicates_count_once_in_first_seen_order() {
        check(
            "862419074072390\n862419074072389\n862419074072390\n862419074072390\n",
            &["862419074072390", "862419074072389"],
            &[],
            2,
        );
        // The same id quoted and unquoted, with spaces, is one id.
        check("1001\n\"1001\"\n 1001 \n", &["1001"], &[], 2);
    }

    #[test]
    fn invalid_ids_are_reported_with_their_line() {
        check(
            "862419074072389\n8624 1907 4072 390\n\n862419074072391/2\n,empty first cell\n862419074072392\n",
            &["862419074072389", "862419074072392"],
            &[
                invalid(2, "8624 1907 4072 390"),
                invalid(4, "862419074072391/2"),
                invalid(5, ""),
            ],
            0,
        );
        // Lines skipped before a row (blank, comments, Windows line ends) still count.
        check(
            "# batch 7\r\n\r\n# from the factory\r\n\r\n1001\r\nbad/id\r\n\n\nbad id\n",
            &["1001"],
            &[invalid(6, "bad/id"), invalid(9, "bad id")],
            0,
        );
        // The first row is the header, wherever it is: said with its line.
        let list = read_ids(
            b"# exported 2026-11-02

bad/id
1001
",
        );
        assert_eq!(list.header, Some(invalid(3, "bad/id")));
        // Longer than 64 characters, and bytes that are not UTF-8.
        let long = "9".repeat(65);
        check(
            &format!("1001\n{long}\n"),
            &["1001"],
            &[invalid(2, &long)],
            0,
        );
        let list = read_ids(b"1001\n\xff\xfe01\n");
        assert_eq!(list.invalid, [invalid(2, "\u{fffd}\u{fffd}01")]);
        // Rows of empty cells (a spreadsheet's trailing rows) are blank lines.
        check("1001\n,,,\n1002\n", &["1001", "1002"], &[], 0);
    }
}
