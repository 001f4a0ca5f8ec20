"""Names of the CAM methods, importable without TensorFlow (the CLI's --help lists them)."""

METHODS: tuple[str, ...] = ("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "scorecam", "eigencam")
