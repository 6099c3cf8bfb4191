"""Where the course runs: the device and its precision (``device``), torch.compile of the
attention modules (``compile``), the folders for data, runs, results and figures (``paths``), the
environment report a chapter prints (``env``) and files written atomically (``atomic``)."""
