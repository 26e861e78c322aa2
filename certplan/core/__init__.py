"""The pure core: plan, policy, render, planfile. No I/O, no clock, no network:
`now` and everything observed come in as arguments."""
