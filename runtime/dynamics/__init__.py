"""Classical dynamics: integrators (eqs. 63, 91), the sampling protocol, simulation driver and observables."""
