"""Descriptors on multi-site cells (issue 18): every field type, inequivalent sites (one
descriptor per site class), and force fields with one network per class. Modules are
generated into a temporary folder (small neighborhoods: a few seconds each)."""

import pytest
import sympy as sp
import torch

import generated
from codegen.generate import write
from grouptheory import Field, Lattice, build_descriptor
from grouptheory.errors import GroupTheoryError, RepresentationError
from grouptheory.lattice import affine_image
from runtime.ml.forcefield import ForceField, SiteClassForceField
from runtime.ml.network import NetworkConfig
from runtime.ml.symmetry import equivariance_error, lattice_actions, move_sites, transform

COMBINATIONS = {  # name: lattice, field, family, shells
    "honeycomb_quadrupole": ("honeycomb", "quadrupole", "reference", 3),
    "honeycomb_vector": ("honeycomb", "vector", "reference", 2),
    "kagome_quadrupole": ("kagome", "quadrupole", "power", 2),
    "kagome_vector": ("kagome", "vector", "reference", 2),
    "diamond_jahn_teller": ("diamond", "jahn_teller", "power", 2),
    "pyrochlore_vector": ("pyrochlore", "vector", "power", 1),
    "lieb_scalar": ("lieb", "scalar", "reference", 3),
    "lieb_vector": ("lieb", "vector", "power", 2),
    "perovskite_scalar": ("perovskite", "scalar", "power", 1),
    "perovskite_jahn_teller": ("perovskite", "jahn_teller", "power", 1),
    "honeycomb_spin": ("honeycomb", "spin", "phase", 3),
    "kagome_spin": ("kagome", "spin", "phase", 2),
    "kagome_spin_acsf": ("kagome", "spin", "acsf", 2),
    "honeycomb_scalar_acsf": ("honeycomb", "scalar", "acsf", 3),
    "pyrochlore_spin": ("pyrochlore", "spin", "power", 1),
    "lieb_spin": ("lieb", "spin", "phase", 2),
}
SPIN = [n for n in COMBINATIONS if "spin" in n]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("multisite")


_LOADED: dict = {}


def load(name, folder):
    if name not in _LOADED:
        lattice, field, family, shells = COMBINATIONS[name]
        spec = build_descriptor(lattice, field, family, shells=shells, name=name)
        _LOADED[name] = generated.load_file(write(spec, folder))
    return _LOADED[name]


def parts(descriptor):
    """The per-class descriptors (one for a lattice whose sites are all equivalent)."""
    return getattr(descriptor, "classes", (descriptor,))


def make_field(descriptor, batch=2, seed=0):
    cells = tuple(max(m, 4) for m in descriptor.min_size)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *cells, descriptor.sublattices, descriptor.components),
                       generator=gen, dtype=torch.float64)


def on_every_site(part, features):
    """Class features (…, class sites, F) placed in a (…, sublattice, F) tensor of zeros."""
    full = features.new_zeros((*features.shape[:-2], part.sublattices, features.shape[-1]))
    full[..., list(part.centers), :] = features
    return full


@pytest.mark.parametrize("name", COMBINATIONS)
def test_invariant_under_every_site_group_operation_and_translation(name, folder):
    d = load(name, folder)
    x = make_field(d)
    cells = tuple(x.shape[1:1 + d.dimension])
    actions = lattice_actions(d, cells)
    assert len(actions) > 1
    for part in parts(d):
        base = part(x, backend="torch")
        scale = 1 + base.abs().max()
        assert base.abs().max() > 1e-3
        for perm, matrix in actions:
            moved = on_every_site(part, part(transform(x, perm, matrix), backend="torch"))
            assert (moved - move_sites(on_every_site(part, base), perm)).abs().max() / scale \
                < 1e-10
        for axis in range(d.dimension):
            shifted = part(x.roll(1, 1 + axis), backend="torch")
            assert (shifted - base.roll(1, 1 + axis)).abs().max() / scale < 1e-10


@pytest.mark.parametrize("name", ["honeycomb_vector", "kagome_quadrupole"])
def test_the_features_of_every_sublattice_mean_the_same(name, folder):
    """The stencil of sublattice s is that of site 0 carried by a space-group operation h:
    the features at s of h·Φ are those at site 0 of Φ (here h found from the lattice)."""
    d = load(name, folder)
    lattice = Lattice.preset(COMBINATIONS[name][0])
    x = make_field(d, batch=1)
    cells = tuple(x.shape[1:1 + d.dimension])
    base = d(x, backend="torch")
    group = lattice.point_group
    matrices = Field.vector().rule(group) if "vector" in name else \
        Field.quadrupole().rule(group)
    index = {lattice.fractional(g): i for i, g in enumerate(group.elements)}
    for m, t, s in lattice.operations_from(0):
        field_matrix = torch.tensor([[float(v) for v in row] for row in
                                     matrices[index[sp.ImmutableMatrix(m)]].tolist()],
                                    dtype=torch.float64)
        moved = torch.empty_like(x)
        for b, f in enumerate(lattice.fractional_basis):
            image = affine_image(f, m, t)
            b2 = lattice.site_at(image, 0)
            shift = [int(v - w) for v, w in zip(image, lattice.fractional_basis[b2])]
            rows = torch.tensor(m, dtype=torch.int64)
            grid = torch.stack(torch.meshgrid(*[torch.arange(n) for n in cells],
                                              indexing="ij"), -1)
            target = (grid @ rows + torch.tensor(shift)) % torch.tensor(cells)
            moved[0, target[..., 0], target[..., 1], b2] = x[0, :, :, b] @ field_matrix.T
        features = d(moved, backend="torch")
        cell = [int(v - w) for v, w in zip(t, lattice.fractional_basis[s])]  # h(site 0)
        assert torch.allclose(features[0, cell[0] % cells[0], cell[1] % cells[1], s],
                              base[0, 0, 0, 0], atol=1e-10, rtol=0)


def _rotation(seed):
    q, _ = torch.linalg.qr(torch.randn((3, 3), dtype=torch.float64,
                                       generator=torch.Generator().manual_seed(seed)))
    return q * torch.linalg.det(q)


@pytest.mark.parametrize("name", SPIN)
def test_spin_descriptors_invariant_under_global_rotations(name, folder):
    d = load(name, folder)
    x = make_field(d)
    for part in parts(d):
        base = part(x, backend="torch")
        for seed in range(2):
            rotated = part(x @ _rotation(seed).T, backend="torch")
            assert (rotated - base).abs().max() / (1 + base.abs().max()) < 1e-10


@pytest.mark.parametrize("name", ["kagome_spin", "lieb_spin", "honeycomb_spin"])
def test_spin_descriptors_are_complete(name, folder):
    """Jacobian rank 3L − 3 (the neighborhood's spins modulo global rotations) for each site
    class: the paper's building blocks alone gave 23 of 24 on kagome and 21 of 24, 14 of 18
    on Lieb's corner and edge classes (2 shells)."""
    d = load(name, folder)
    lattice, _, _, shells = COMBINATIONS[name]
    for part in parts(d):
        site = getattr(part, "centers", (0,))[0]
        hood = Lattice.preset(lattice).neighborhood(shells=shells, site=site)
        assert part.jacobian_rank() == 3 * len(hood) - 3


def test_spin_channels_name_their_sublattices(folder):
    """A kagome bond reads two different sublattices; the spin backward covers all three."""
    d = load("kagome_spin", folder)
    keys = [k for part in d.stencils for k in part.CHANNELS if k[0] == "dot"]
    assert any(k[1] != k[3] for k in keys)
    assert {k[1] for k in keys} | {k[3] for k in keys} == {0, 1, 2}


@pytest.mark.parametrize("name", ["lieb_scalar", "kagome_spin"])
def test_triton_and_lean_paths_equal_torch(name, folder, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    d = load(name, folder)
    for part in parts(d):
        x = make_field(part, batch=1).requires_grad_(True)
        a, b = part(x, backend="torch"), part(x, backend="triton")
        assert a.shape[-2] == len(part.centers)
        scale = a.detach().abs().max()
        assert (a - b).abs().max() < 1e-12 * scale
        w = torch.randn_like(a)
        (ga,) = torch.autograd.grad((a * w).sum(), x)
        (gb,) = torch.autograd.grad((b * w).sum(), x)
        features, saved = part.lean_forward(x.detach())
        assert (features - a).abs().max() < 1e-12 * scale
        assert (gb - ga).abs().max() < 1e-12 * ga.abs().max()
        assert (part.lean_backward(saved, w) - ga).abs().max() < 1e-12 * ga.abs().max()


# -- the site classes and the group identities behind them ------------------------------
@pytest.mark.parametrize("name", Lattice.PRESETS)
def test_site_classes_are_the_orbits_of_the_space_group(name):
    """Orbit–stabilizer: |point group of the space group| = |site group| · |class| for every
    class; every operation maps the lattice onto itself; each site group is the set of
    operations fixing its site."""
    lattice = Lattice.preset(name)
    classes = lattice.site_classes
    assert sorted(s for c in classes for s in c) == list(range(lattice.sublattices))
    point = {lattice.fractional(g) for g in lattice.point_group.elements}
    for c in classes:
        site = lattice.site_group(c[0])
        assert lattice.point_group.order == site.order * len(c)
        assert {lattice.fractional(g) for g in site.elements} <= point
        ops = lattice.operations_from(c[0])
        assert {s for _, _, s in ops} == set(c)
        fixing = {sp.ImmutableMatrix(m) for m, t, s in ops if s == c[0]}
        assert fixing == {lattice.fractional(g) for g in site.elements}
        for m, t, _ in ops:
            images = [lattice.site_at(affine_image(f, m, t), 0)
                      for f in lattice.fractional_basis]
            assert sorted(images) == list(range(lattice.sublattices))


def test_lieb_and_perovskite_classes_and_site_groups():
    lieb, perovskite = Lattice.preset("lieb"), Lattice.preset("perovskite")
    assert lieb.site_classes == ((0,), (1, 2))
    assert [lieb.site_group(s).name for s in (0, 1, 2)] == ["D4", "D2", "D2"]
    assert perovskite.site_classes == ((0,), (1,), (2, 3, 4))
    assert [perovskite.site_group(s).name for s in (0, 1, 2)] == ["Oh", "Oh", "D4h"]
    spec = build_descriptor("lieb", "scalar", "power", shells=2)
    assert [c["centers"] for c in spec.data["classes"]] == [[0], [1, 2]]
    assert [c["group"] for c in spec.data["classes"]] == ["D4", "D2"]


def test_species_split_a_class():
    """Sites of different species are never related: honeycomb with two species (hBN) has
    two classes, each with the D3 site group."""
    hbn = Lattice([[1, 0], ["1/2", sp.sqrt(3) / 2]], [[0, 0], ["1/3", "1/3"]],
                  species=["B", "N"], name="hbn")
    assert hbn.site_classes == ((0,), (1,))
    spec = build_descriptor(hbn, "scalar", "power", shells=2)
    assert [c["group"] for c in spec.data["classes"]] == ["D3", "D3"]


# -- hostile input ----------------------------------------------------------------------
def test_a_field_defined_on_the_site_group_only_is_refused_with_the_reason():
    with pytest.raises(GroupTheoryError, match="defined on the site group only"):
        build_descriptor("kagome", Field.irrep("B1"), "power", shells=1)


def test_the_cubic_doublet_on_a_hexagonal_lattice_points_to_the_quadrupole():
    with pytest.raises(RepresentationError, match="not a representation of D3"):
        build_descriptor("honeycomb", "jahn_teller", "power", shells=1)


def test_a_class_module_swapped_for_another_is_refused(folder):
    import shutil

    from generated._support import DescriptorInputError

    load("lieb_scalar", folder)
    other = folder / "swapped"
    shutil.copytree(folder, other)
    spec = build_descriptor("lieb", "scalar", "power", shells=2, name="lieb_scalar")
    write(spec, folder / "power", force=True)
    shutil.copy(folder / "power" / "classes" / "lieb_scalar_c1.py",
                other / "classes" / "lieb_scalar_c1.py")
    shutil.copytree(folder / "power" / "stencils", other / "stencils", dirs_exist_ok=True)
    with pytest.raises(DescriptorInputError, match="site-class modules are not the ones"):
        generated.load_file(other / "lieb_scalar.py")


# -- force fields: one network per site class -------------------------------------------
SMALL = NetworkConfig(widths=(8, 8))


def random_model(d, seed=0):
    torch.manual_seed(seed)
    model = ForceField(d, SMALL)
    with torch.no_grad():
        for part in model.classes:
            part.standardizer.mean.normal_()
            part.shift.fill_(0.3)
    return model


@pytest.mark.parametrize("name", ["lieb_scalar", "perovskite_scalar", "lieb_vector",
                                  "lieb_spin"])
def test_force_field_per_class_is_equivariant_and_lean_equals_autograd(name, folder):
    d = load(name, folder)
    model = random_model(d)
    assert isinstance(model, SiteClassForceField)
    assert len(model.classes) == len(d.classes) > 1
    x = make_field(d)
    cells = tuple(x.shape[1:1 + d.dimension])
    error = equivariance_error(model.forces, x, lattice_actions(d, cells))
    assert error["max"] < 1e-10
    energy, forces = model.energy_and_forces(x)
    model.path = "autograd"
    energy2, forces2 = model.energy_and_forces(x)
    assert (energy - energy2).abs().max() < 1e-10 * energy.abs().max()
    assert (forces - forces2).abs().max() < 1e-10 * forces.abs().max()


def test_site_class_forces_are_minus_the_energy_gradient_and_blockwise_equal(folder):
    """Central finite differences of E match F (conservative forces), and evaluating in
    blocks of rows (each class with its own halo) changes nothing."""
    d = load("lieb_spin", folder)
    model = random_model(d)
    x = make_field(d, batch=1)
    energy, forces = model.energy_and_forces(x)
    gen = torch.Generator().manual_seed(3)
    for _ in range(4):
        index = tuple(int(torch.randint(n, (1,), generator=gen)) for n in x.shape)
        h = 1e-5
        up, down = x.clone(), x.clone()
        up[index] += h
        down[index] -= h
        with torch.no_grad():
            numeric = -(model.energy(up) - model.energy(down)) / (2 * h)
        assert abs(float(numeric) - float(forces[index])) < 1e-6 * (1 + forces.abs().max())
    model.block_rows = 2
    blocked_energy, blocked = model.energy_and_forces(x)
    assert (blocked_energy - energy).abs().max() < 1e-10 * energy.abs().max()
    assert (blocked - forces).abs().max() < 1e-10 * forces.abs().max()


def test_each_class_network_sees_only_its_own_class(folder):
    d = load("lieb_scalar", folder)
    model = random_model(d)
    x = make_field(d)
    before = model(x)
    assert [e.shape[-1] for e in before] == [1, 2]
    with torch.no_grad():
        for p in model.classes[1].network.parameters():
            p.add_(0.5)
    after = model(x)
    assert torch.equal(before[0], after[0])
    assert (before[1] - after[1]).abs().min() > 0
    energy = model.energy(x)
    assert torch.allclose(energy, sum(e.reshape(2, -1).sum(1) for e in after), atol=1e-12,
                          rtol=0)


def test_site_class_force_field_saves_and_loads(folder, tmp_path):
    d = load("lieb_scalar", folder)
    model = random_model(d)
    x = make_field(d)
    path = model.save(tmp_path / "lieb.pt")
    loaded = ForceField.load(path, d)
    assert isinstance(loaded, SiteClassForceField)
    assert torch.equal(loaded.energy_and_forces(x)[1], model.energy_and_forces(x)[1])


def test_training_per_class_networks_on_lieb_holstein(folder):
    """Exact Holstein forces on the Lieb lattice: training lowers the held-out force error,
    and the trained forces are equivariant under the lattice's own group (D4, 7 operations
    beyond the identity) to 1e-10."""
    from runtime.electrons import Holstein
    from runtime.ml.training import TrainingData, TrainingOptions, train

    d = load("lieb_scalar", folder)
    holstein = Holstein("lieb", 6, g=1.5)
    fields = holstein.random_field(12, seed=4, scale=0.8)
    solution = holstein.solve(fields, filling=0.5)
    data = TrainingData(fields, solution.forces, solution.energy, torch.arange(12) // 3)
    torch.manual_seed(0)
    model = ForceField(d, NetworkConfig((16, 16)))
    options = TrainingOptions(epochs=8, batch_size=3, learning_rate=3e-3, energy_weight=0.1,
                              validation_fraction=0.25, patience=10, seed=5)
    history = train(model, data, options, progress=False)
    assert history.epochs[history.best_epoch]["valid_force_rmse"] < \
        0.8 * history.epochs[0]["valid_force_rmse"]
    stds = [part.standardizer.scale for part in model.classes]
    assert [len(s) for s in stds] == [c.n_features for c in d.classes]
    error = equivariance_error(model.forces, fields[:2], lattice_actions(d, (6, 6)))
    assert error["operations"] == 7 and error["max"] < 1e-10
    # the extrapolation check: one training range per class, each site against its own
    from runtime.ml.extrapolation import RangeMonitor
    from runtime.ml.training import split

    train_index, _ = split(data.trajectory, 0.25, 5)
    recorded = model.metadata["feature_range"]["classes"]
    assert [len(r["min"]) for r in recorded] == [c.n_features for c in d.classes]
    monitor = RangeMonitor(model, margin=0.1)
    assert float(monitor(fields[train_index]).max()) == 0.0
    far = monitor(10 * fields[:1])
    assert far.shape == fields[:1].shape[:-1] and float(far.min()) > 1.0  # every site
    edges = list(d.classes[1].centers)  # widen the edge class's range: only its sites pass
    recorded[1] = {"min": [-1e9] * d.classes[1].n_features, "max": [1e9] * d.classes[1].n_features}
    widened = RangeMonitor(model, margin=0.1)(10 * fields[:1])
    assert float(widened[..., edges].max()) == 0.0
    assert torch.equal(widened[..., list(d.classes[0].centers)],
                       far[..., list(d.classes[0].centers)])
