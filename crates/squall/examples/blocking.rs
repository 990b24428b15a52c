//! Sending from a program without async: the blocking client runs its connections on a small
//! runtime of its own.
//!
//!     squall sink &
//!     cargo run -p squall --example blocking

fn main() -> Result<(), squall::Error> {
    let url = std::env::var("SQUALL_URL").unwrap_or_else(|_| "smtp://localhost:2525".into());
    let client = squall::blocking::Client::from_url(&url)?;
    let receipt = client.send(
        "ann@example.org",
        ["bob@example.net"],
        "From: ann@example.org\r\nTo: bob@example.net\r\nSubject: Hi\r\n\r\nNo async here.\r\n",
    )?;
    println!("queued as {:?}", receipt.queue_id);
    // Dropping the client delivers anything still queued and says QUIT.
    Ok(())
}
