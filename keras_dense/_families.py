"""The model families, written once: each is the name of its module in `keras_dense.models`.

`FAMILIES` orders every listing (`keras-dense list`, the documentation's
tables, titled by `FAMILY_TITLES`); `keras_dense.models.<family>` is the family's
module, and a record's
`family` (its config's) is that name. `FAMILY_ALIASES` holds the other names a
user may type for a family (the name our records used before, and torchvision's
module name); `family_name` resolves them, for `list_models(family=...)` and
`keras_dense.weights.torchvision.convert_into(family=...)`.

Standard library only and importing nothing of keras_dense, so that every
package (`weights` included, which comes before `models`) can read it.

Examples:
    >>> from keras_dense import _families
    >>> _families.family_name("inception")
    'inception_v3'
"""

# family (its module's name) -> its title in the documentation's tables, in listing order
FAMILY_TITLES = {
    "densenet": "DenseNet",
    "lenet": "LeNet-5",
    "alexnet": "AlexNet",
    "vgg": "VGG",
    "googlenet": "GoogLeNet",
    "resnet": "ResNet",
    "inception_v3": "Inception v3",
}
FAMILIES = tuple(FAMILY_TITLES)
FAMILY_ALIASES = {"inception": "inception_v3"}


def family_name(name: str) -> str:
    """The family `name` stands for: itself, or the family of an alias.

    Args:
        name: a family (`"resnet"`) or an alias (`"inception"`).

    Returns:
        The family's name, one of `FAMILIES`; a name that is neither comes
        back unchanged (and matches no model).
    """
    return FAMILY_ALIASES.get(name, name)


def module_name(family: str) -> str:
    """The module of a family (or alias), e.g. `"keras_dense.models.inception_v3"`.

    Args:
        family: one of `FAMILIES`, or an alias.

    Returns:
        The module's full name.
    """
    return f"keras_dense.models.{family_name(family)}"
