//! The map file: which edge project and firmware a device's `project_name` stands for.
//!
//! ```toml
//! [[product]]
//! name = "A9335_V1723_B3633_WD1"      # the project_name devices send
//! project_key = "demo"
//! firmware_name = "fotademo_LuatOS-SoC_Air780EHV"
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

/// One product: what devices send, and what the edge calls it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    pub project_key: String,
    pub firmware_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    #[serde(default)]
    product: Vec<Product>,
}

/// The products by the name devices send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductMap {
    by_name: HashMap<String, Product>,
}

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("not a valid map file: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("product {0:?}: {1}")]
    Invalid(String, &'static str),
}

impl ProductMap {
    pub fn parse(text: &str) -> Result<ProductMap, MapError> {
        let file: MapFile = toml::from_str(text)?;
        let mut by_name = HashMap::new();
        for product in file.product {
            // Devices send `\w+`; a name they cannot send is a typo in the map.
            if product.name.is_empty()
                || !product
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(MapError::Invalid(
                    product.name,
                    "name must be letters, digits and `_`, as devices send it",
                ));
            }
            // The names go into the check's query unescaped, as devices send them.
            let plain = |s: &str| {
                !s.is_empty()
                    && s.len() <= 128
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            };
            if !plain(&product.project_key) || !plain(&product.firmware_name) {
                return Err(MapError::Invalid(
                    product.name,
                    "project_key and firmware_name must be letters, digits, `_`, `-` and `.`",
                ));
            }
            if by_name.contains_key(&product.name) {
                return Err(MapError::Invalid(product.name, "listed twice"));
            }
            by_name.insert(product.name.clone(), product);
        }
        Ok(ProductMap { by_name })
    }

    pub fn load(path: &Path) -> Result<ProductMap, MapError> {
        let text = std::fs::read_to_string(path).map_err(|source| MapError::Read {
            path: path.display().to_string(),
            source,
        })?;
        ProductMap::parse(&text)
    }

    pub fn get(&self, name: &str) -> Option<&Product> {
        self.by_name.get(name)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect: Result<&[(&str, &str, &str)], &str>) {
        match (ProductMap::parse(text), expect) {
            (Ok(map), Ok(products)) => {
                assert_eq!(map.len(), products.len());
                for (name, key, fw) in products {
                    let p = map.get(name).unwrap_or_else(|| panic!("{name} missing"));
                    assert_eq!(
                        (p.project_key.as_str(), p.firmware_name.as_str()),
                        (*key, *fw)
                    );
                }
            }
            (Err(err), Err(part)) => assert!(err.to_string().contains(part), "{err}"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn map_files() {
        let one = "[[product]]\nname = \"A9335_V1723_B3633_WD1\"\nproject_key = \"demo\"\nfirmware_name = \"fotademo_LuatOS-SoC_Air780EHV\"\n";
        check(
            one,
            Ok(&[(
                "A9335_V1723_B3633_WD1",
                "demo",
                "fotademo_LuatOS-SoC_Air780EHV",
            )]),
        );
        check("", Ok(&[]));
        check(
            &format!("{one}{}", one.replace("A9335_V1723_B3633_WD1", "fotademo")),
            Ok(&[
                (
                    "A9335_V1723_B3633_WD1",
                    "demo",
                    "fotademo_LuatOS-SoC_Air780EHV",
                ),
                ("fotademo", "demo", "fotademo_LuatOS-SoC_Air780EHV"),
            ]),
        );
        check(&format!("{one}{one}"), Err("listed twice"));
        check(
            &one.replace("A9335_V1723_B3633_WD1", "A9335-V1"),
            Err("letters, digits and `_`"),
        );
        check(
            &one.replace("\"demo\"", "\"de&mo\""),
            Err("project_key and firmware_name"),
        );
        check(
            &one.replace("project_key", "projectkey"),
            Err("not a valid map file"),
        );
        check("[[product]]\nname = \"x\"\n", Err("not a valid map file"));
    }

    #[test]
    fn the_example_map_names_the_demo_project() {
        let demo = ("demo", "fotademo_LuatOS-SoC_Air780EHV");
        check(
            include_str!("../map.example.toml"),
            Ok(&[
                ("fotademo", demo.0, demo.1),
                ("A9335_V1723_B3633_WD1", demo.0, demo.1),
            ]),
        );
    }
}
