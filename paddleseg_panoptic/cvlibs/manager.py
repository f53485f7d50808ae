"""Registration into paddleseg's component managers that refuses silent replacement.

paddleseg's own ``ComponentManager.add_component`` only warns and then replaces an existing
component of the same name. A config that names ``PanopticDeepLab`` must always build the
class this package defines, so registering a *different* object under a taken name raises.
Registering the very same object again (e.g. a module imported twice) is a no-op.
"""
from paddleseg.cvlibs import manager as _seg_manager

MODELS = _seg_manager.MODELS
BACKBONES = _seg_manager.BACKBONES
DATASETS = _seg_manager.DATASETS
TRANSFORMS = _seg_manager.TRANSFORMS
LOSSES = _seg_manager.LOSSES

ALL_MANAGERS = (MODELS, BACKBONES, DATASETS, TRANSFORMS, LOSSES)


def _qualified_name(obj):
    return "{}.{}".format(getattr(obj, "__module__", "?"), getattr(obj, "__qualname__", obj))


def register(component_manager):
    """Decorator registering a class or function in ``component_manager``.

    Args:
        component_manager (paddleseg.cvlibs.manager.ComponentManager): e.g. ``MODELS``.

    Raises:
        KeyError: when another object is already registered under the same name.
    """

    def decorator(component):
        name = component.__name__
        existing = component_manager.components_dict.get(name)
        if existing is not None:
            if existing is component or _qualified_name(existing) == _qualified_name(component):
                # Same definition seen again (module re-import): keep the newest object.
                component_manager.components_dict[name] = component
                return component
            raise KeyError(
                "Cannot register {} as '{}' in {}: that name already belongs to {}.".format(
                    _qualified_name(component), name, component_manager.name,
                    _qualified_name(existing)))
        component_manager.add_component(component)
        return component

    return decorator
