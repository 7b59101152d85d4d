"""The torch runtime, one package per concept; each imports only the ones above it here:

    errors, checks, files,     shared basics: errors, input checks, atomic writes, the one
    settings, lattices,        reader of config tables, the numeric lattice, the malloc
    allocator                  setting of the process
    electrons                  Hamiltonians, exact diagonalization, ensembles, exact forces
    dynamics                   integrators, the sampling protocol, simulation, observables
    ml                         force field, network, training, evaluation, symmetry error
    data                       dataset configs, HDF5 datasets, generation, cluster, provenance
    app                        the command line, its commands and pipeline jobs
"""
