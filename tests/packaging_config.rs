//! The packaged config (`debian/optgate.toml`, installed as
//! /etc/optgate/optgate.toml) is the bundled one with the store in the
//! package's state directory, so `optgate logs -c /etc/optgate/optgate.toml`
//! reads the daemon's database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn packaged_config_differs_from_the_bundled_one_only_in_the_store_path() {
    let root = env!("CARGO_MANIFEST_DIR");
    let bundled = std::fs::read_to_string(format!("{root}/config/optgate.toml")).unwrap();
    let packaged = std::fs::read_to_string(format!("{root}/debian/optgate.toml")).unwrap();
    let b: Vec<&str> = bundled.lines().collect();
    let p: Vec<&str> = packaged.lines().collect();
    assert_eq!(b.len(), p.len(), "same number of lines");
    let differing: Vec<(&str, &str)> = b
        .iter()
        .zip(&p)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (*x, *y))
        .collect();
    assert_eq!(
        differing.len(),
        1,
        "only the store path differs: {differing:?}"
    );
    assert!(differing[0].0.starts_with("path = \"data/optgate.db\""));
    assert!(differing[0]
        .1
        .starts_with("path = \"/var/lib/optgate/optgate.db\""));
    let cfg = optgate::config::Config::from_toml_str(&packaged).unwrap();
    cfg.validate().unwrap();
    assert_eq!(cfg.store.path, "/var/lib/optgate/optgate.db");
}
