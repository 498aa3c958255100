"""The Actions emulator: workflows parsed, jobs run as a runner would, steps, expressions, actions."""
