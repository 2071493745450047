"""The private engine: operations, sans-IO steps, the request on the wire, the judging of answers,
the sync and async drivers, retries and the clock. It knows no PEC model."""
