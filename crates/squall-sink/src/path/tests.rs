use super::*;

fn ok(args: &str) -> (String, Vec<String>) {
    let p = parse_rcpt(args)
        .or_else(|_| parse_mail(args))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    (p.mailbox.into(), p.params.iter().map(|s| s.to_string()).collect())
}

#[test]
fn ordinary_paths_and_parameters() {
    for (args, mailbox, params) in [
        ("FROM:<a@b.example>", "a@b.example", &[][..]),
        (
            "FROM:<a@b.example> SIZE=1 BODY=8BITMIME",
            "a@b.example",
            &["SIZE=1", "BODY=8BITMIME"][..],
        ),
        ("from: <>", "", &[]),
        ("FROM:<> SMTPUTF8", "", &["SMTPUTF8"]),
        (
            "TO:<x.y+tag@sub.example.org>  NOTIFY=SUCCESS,FAILURE",
            "x.y+tag@sub.example.org",
            &["NOTIFY=SUCCESS,FAILURE"],
        ),
        ("TO:<u@[192.0.2.1]>", "u@[192.0.2.1]", &[]),
        ("TO:<u@[IPv6:2001:db8::1]>", "u@[IPv6:2001:db8::1]", &[]),
        ("TO:<u@[x400:c=gb;a=1]>", "u@[x400:c=gb;a=1]", &[]),
        ("TO:<Postmaster>", "Postmaster", &[]),
        ("TO:<jöe@exämple.org>", "jöe@exämple.org", &[]),
        ("TO:<a@host_name.example>", "a@host_name.example", &[]),
        ("TO:<a@b> ORCPT=rfc822;a+40b", "a@b", &["ORCPT=rfc822;a+40b"]),
        ("FROM:<a@b> AUTH=<>", "a@b", &["AUTH=<>"]),
    ] {
        assert_eq!(
            ok(args),
            (
                mailbox.to_string(),
                params.iter().map(|s| s.to_string()).collect()
            ),
            "{args}"
        );
    }
}

/// The finding of issue 11, item 12: a quoted local part may hold `>` and spaces.
#[test]
fn quoted_local_parts_keep_what_is_inside_the_quotes() {
    assert_eq!(
        ok(r#"TO:<"x> NOTIFY=SUCCESS"@example.org>"#),
        (r#""x> NOTIFY=SUCCESS"@example.org"#.into(), vec![])
    );
    assert_eq!(ok(r#"TO:<"a\"b\\c"@x.org> NOTIFY=NEVER"#).0, r#""a\"b\\c"@x.org"#);
    assert_eq!(ok(r#"TO:<""@x>"#).0, r#"""@x"#);
}

#[test]
fn a_source_route_is_accepted_and_dropped() {
    assert_eq!(ok("TO:<@a.example,@b.example:u@c.example>").0, "u@c.example");
    assert_eq!(ok("FROM:<@a:u@c>").0, "u@c");
    for bad in ["TO:<@a,u@c>", "TO:<@:u@c>", "TO:<@a,:u@c>", "TO:<@a@b:u@c>"] {
        assert_eq!(parse_rcpt(bad), Err(PathError::Route), "{bad}");
    }
}

#[test]
fn malformed_paths_are_refused() {
    for (args, err) in [
        ("", PathError::Prefix("TO:")),
        ("TO", PathError::Prefix("TO:")),
        ("FROM:<a@b>", PathError::Prefix("TO:")),
        ("TO:a@b", PathError::NoOpenBracket),
        ("TO:<>", PathError::NullPath),
        ("TO:<a@b", PathError::NoCloseBracket),
        ("TO:<a@b>>", PathError::Trailing),
        ("TO:<a@b>x", PathError::Trailing),
        ("TO:<a>", PathError::NoDomain),
        ("TO:<@>", PathError::Route),
        ("TO:<a b@c>", PathError::LocalPart),
        ("TO:<.a@c>", PathError::LocalPart),
        ("TO:<a..b@c>", PathError::LocalPart),
        ("TO:<a.@c>", PathError::LocalPart),
        ("TO:<\"a@c>", PathError::LocalPart),
        ("TO:<\"a\\\x01\"@c>", PathError::LocalPart),
        ("TO:<\"a\x1b\"@c>", PathError::LocalPart),
        ("TO:<a\x1b@c>", PathError::LocalPart),
        ("TO:<a\0@c>", PathError::LocalPart),
        ("TO:<a@>", PathError::Domain),
        ("TO:<a@-b>", PathError::Domain),
        ("TO:<a@b->", PathError::Domain),
        ("TO:<a@b..c>", PathError::Domain),
        ("TO:<a@b.>", PathError::Domain),
        ("TO:<a@b\rc>", PathError::NoCloseBracket),
        ("TO:<a@[1.2.3]>", PathError::AddressLiteral),
        ("TO:<a@[IPv6:zz]>", PathError::AddressLiteral),
        ("TO:<a@[1.2.3.4>", PathError::AddressLiteral),
        ("TO:<a@[:x]>", PathError::AddressLiteral),
        ("TO:<a@b> =x", PathError::Param),
        ("TO:<a@b> NOTIFY=", PathError::Param),
        ("TO:<a@b> A=b=c", PathError::Param),
        ("TO:<a@b> -X", PathError::Param),
        ("TO:<a@b> X=\x1b", PathError::Param),
        ("TO:<a@b> X\t", PathError::Param),
    ] {
        assert_eq!(parse_rcpt(args), Err(err), "{args:?}");
    }
    assert_eq!(parse_mail("FROM:<Postmaster>"), Err(PathError::NoDomain));
}

/// What is recorded, put back on a command line, parses to the same thing: nothing in a
/// mailbox or parameter can change where the path ends.
#[test]
fn parsed_paths_round_trip() {
    for args in [
        r#"TO:<"x> NOTIFY=SUCCESS"@example.org> NOTIFY=NEVER"#,
        "TO:<@a,@b:u@[IPv6:::1]> ORCPT=rfc822;u@x",
        "TO:<jöe@exämple.org>",
    ] {
        let p = parse_rcpt(args).unwrap();
        let again = format!("TO:<{}> {}", p.mailbox, p.params.join(" "));
        let q = parse_rcpt(&again).unwrap();
        assert_eq!(p, q, "{args}");
    }
}
