use super::*;

#[test]
fn txt_record_gives_the_id() {
    assert_eq!(
        parse_txt(["v=STSv1; id=20160831085700Z;"]).unwrap(),
        "20160831085700Z"
    );
    assert_eq!(parse_txt(["v=STSv1;id=abc"]).unwrap(), "abc");
    // Other TXT records (SPF) are not ours.
    assert_eq!(parse_txt(["v=spf1 -all", "v=STSv1; id=1"]).unwrap(), "1");
    // Unknown fields are ignored.
    assert_eq!(parse_txt(["v=STSv1; ext=x; id=7"]).unwrap(), "7");
}

#[test]
fn txt_record_problems() {
    assert_eq!(parse_txt([]), Err(StsError::NoRecord));
    assert_eq!(parse_txt(["v=spf1 -all"]), Err(StsError::NoRecord));
    assert_eq!(parse_txt(["v=STSv10; id=1"]), Err(StsError::NoRecord));
    assert_eq!(parse_txt(["xv=STSv1; id=1"]), Err(StsError::NoRecord));
    assert_eq!(
        parse_txt(["v=STSv1; id=1", "v=STSv1; id=2"]),
        Err(StsError::ManyRecords)
    );
    for bad in [
        "v=STSv1",
        "v=STSv1; id=",
        "v=STSv1; id=a-b",
        "v=STSv1; junk",
        &format!("v=STSv1; id={}", "a".repeat(33)),
    ] {
        assert!(matches!(parse_txt([bad]), Err(StsError::BadRecord(_))), "{bad}");
    }
}

const EXAMPLE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";

#[test]
fn the_rfc_example_policy() {
    let p = Policy::parse(EXAMPLE).unwrap();
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(p.max_age, 604_800);
    assert_eq!(
        p.mx,
        ["mail.example.com", "*.example.net", "backupmx.example.com"]
    );
    // LF line ends and a missing last line end are fine too.
    assert_eq!(
        Policy::parse(EXAMPLE.replace("\r\n", "\n").trim_end()).unwrap(),
        p
    );
}

#[test]
fn mx_matching() {
    let p = Policy::parse(EXAMPLE).unwrap();
    assert!(p.allows("mail.example.com"));
    assert!(p.allows("MAIL.Example.COM."));
    assert!(p.allows("mx1.example.net"));
    // The wildcard covers exactly one label.
    assert!(!p.allows("example.net"));
    assert!(!p.allows("a.b.example.net"));
    assert!(!p.allows(".example.net"));
    assert!(!p.allows("mail.example.com.evil.test"));
    assert!(!p.allows("xmail.example.com"));
    assert!(!p.allows(""));
}

#[test]
fn policy_fields() {
    // Unknown keys are ignored; the first of a repeated key counts.
    let p = Policy::parse("version: STSv1\nmode: testing\nmode: enforce\nfoo: bar\nmx: a.test\nmax_age: 0\n")
        .unwrap();
    assert_eq!((p.mode, p.max_age), (Mode::Testing, 0));
    // mode none needs no mx.
    let p = Policy::parse("version: STSv1\nmode: none\nmax_age: 86400\n").unwrap();
    assert_eq!(p.mode, Mode::None);
    assert!(!p.allows("a.test"));
    assert_eq!(
        Policy::parse(&format!("version: STSv1\nmode: none\nmax_age: {MAX_AGE_LIMIT}\n"))
            .unwrap()
            .max_age,
        MAX_AGE_LIMIT
    );
}

#[test]
fn malformed_policies() {
    let cases = [
        "",
        "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
        "mode: enforce\nmx: a.test\nmax_age: 1\n",
        "version: STSv1\nmx: a.test\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: a.test\n",
        "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n",
        "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n",
        "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 99999999999999999999\n",
        "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1e3\n",
        "version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: a.*.test\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmx: \nmax_age: 1\n",
        "<html>not a policy</html>",
        "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\ngarbage line\n",
    ];
    for text in cases {
        assert!(
            matches!(Policy::parse(text), Err(StsError::BadPolicy(_))),
            "{text:?}"
        );
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic walk over short strings of the interesting characters.
    let alphabet = [
        "v=STSv1", ";", "id=", "x", "\r", "\n", ":", "mx", "*.", ".", " ", "é", "mode", "max_age", "9",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..5000 {
        let mut s = String::new();
        for _ in 0..(seed % 12) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let _ = parse_txt([s.as_str()]);
        if let Ok(p) = Policy::parse(&s) {
            let _ = p.allows(&s);
        }
        seed = seed.wrapping_add(1);
    }
}
