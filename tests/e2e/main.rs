//! End-to-end tests: start the lab on a free loopback port and run the real mwictl binary.
