use super::*;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn image(seed: u8, size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn files(cache: &Cache) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache.dir.join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| is_sha256(name))
        .collect();
    names.sort();
    names
}

#[test]
fn the_least_recently_used_goes_first() {
    let mut lru = Lru::default();
    assert!(lru.keep("a", 3, None, 7).is_empty());
    assert!(lru.keep("b", 3, None, 7).is_empty());
    lru.touch("a");
    assert_eq!(lru.keep("c", 3, None, 7), ["b"]);
    assert_eq!(lru.total, 6);
    // Kept again (loaded from disk, say): no double count.
    assert!(lru.keep("c", 3, None, 7).is_empty());
    assert_eq!(lru.total, 6);
    // One image over the bound: every other goes, it stays.
    let mut evicted = lru.keep("big", 10, None, 7);
    evicted.sort();
    assert_eq!(evicted, ["a", "c"]);
    assert_eq!(lru.total, 10);
    // The next image pushes it out.
    assert_eq!(lru.keep("d", 1, None, 7), ["big"]);
    assert_eq!(lru.total, 1);
    lru.forget("d");
    lru.forget("d");
    assert_eq!((lru.total, lru.entries.len()), (0, 0));
}

#[tokio::test]
async fn a_bounded_cache_evicts_from_memory_and_disk() {
    let dir = fota_tests::temp_state_dir("gateway-cache-lru");
    let cache = Cache::open(&dir, 7000).unwrap();
    let (a, b, c) = (image(1, 3000), image(2, 3000), image(3, 3000));
    cache.insert(a.clone()).await.unwrap();
    cache.insert(b.clone()).await.unwrap();
    assert!(cache.loaded(&sha(&a)).is_some(), "a is used again");
    cache.insert(c.clone()).await.unwrap();
    assert!(cache.holds(&sha(&a)) && cache.holds(&sha(&c)));
    assert!(!cache.holds(&sha(&b)) && cache.loaded(&sha(&b)).is_none());
    let mut kept = vec![sha(&a), sha(&c)];
    kept.sort();
    assert_eq!(files(&cache), kept);
    assert_eq!(cache.bytes(), 6000);

    // An evicted image is fetched again when asked for (here for a live session).
    let mut fetches = 0;
    let again = cache
        .image(&sha(&b), || {
            fetches += 1;
            let b = b.clone();
            async move { Ok(b) }
        })
        .await
        .unwrap();
    assert_eq!((again.bytes.as_slice(), fetches), (b.as_slice(), 1));
    assert!(!cache.holds(&sha(&a)), "a was the least recently used now");

    // Bytes that do not hash to their name are refused and never kept.
    let wrong = cache.image(&sha(&a), || async { Ok(vec![0u8; 10]) }).await;
    assert!(
        matches!(wrong, Err(CacheError::Mismatch { .. })),
        "{wrong:?}"
    );
    assert!(!cache.holds(&sha(&a)));
    let bad = cache.image("../etc/passwd", || async { Ok(vec![]) }).await;
    assert!(matches!(bad, Err(CacheError::Name(_))), "{bad:?}");
}

#[tokio::test]
async fn an_image_over_the_bound_is_kept_alone() {
    let dir = fota_tests::temp_state_dir("gateway-cache-big");
    let cache = Cache::open(&dir, 7000).unwrap();
    let (a, big) = (image(1, 3000), image(9, 8000));
    cache.insert(a.clone()).await.unwrap();
    let got = cache.insert(big.clone()).await.unwrap();
    assert_eq!(got.bytes, big);
    assert!(cache.loaded(&sha(&big)).is_some());
    assert_eq!(files(&cache), [sha(&big)]);
    assert_eq!(cache.bytes(), 8000);
    // The next image takes its place.
    cache.insert(a.clone()).await.unwrap();
    assert_eq!(files(&cache), [sha(&a)]);
    assert_eq!(cache.bytes(), 3000);
}

#[tokio::test]
async fn a_reopened_cache_counts_its_files_against_the_bound() {
    let dir = fota_tests::temp_state_dir("gateway-cache-reopen");
    let (a, b) = (image(1, 3000), image(2, 3000));
    {
        let cache = Cache::open(&dir, 7000).unwrap();
        cache.insert(a.clone()).await.unwrap();
        cache.insert(b.clone()).await.unwrap();
    }
    let cache = Cache::open(&dir, 7000).unwrap();
    assert_eq!(cache.bytes(), 6000);
    assert!(
        cache.loaded(&sha(&a)).is_none(),
        "on disk, not in memory yet"
    );
    let mut fetched = false;
    let loaded = cache
        .image(&sha(&a), || {
            fetched = true;
            async { Ok(Vec::new()) }
        })
        .await
        .unwrap();
    assert_eq!((loaded.bytes.as_slice(), fetched), (a.as_slice(), false));
    assert_eq!(cache.bytes(), 6000);
    drop(cache);
    // A smaller bound: the oldest file goes at once.
    let cache = Cache::open(&dir, 4000).unwrap();
    assert_eq!(cache.bytes(), 3000);
    assert_eq!(files(&cache).len(), 1);
}
