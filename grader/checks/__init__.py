"""The graded checks: one pytest module per group, collected by the plugin for ``--submission``."""
