fn main() {
    println!("optgate {}", env!("CARGO_PKG_VERSION"));
}
