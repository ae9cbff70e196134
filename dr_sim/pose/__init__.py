"""6-DoF object pose from keypoints through a calibrated camera (Tremblay et al., DOPE, CoRL 2018).

A network predicts one belief map per keypoint (the 8 projected corners of the object's own bounding box,
then its centroid; ``dr_sim.policies.belief_net``). From the maps:

- ``keypoints``: peaks with subpixel refinement, the peak height as confidence, and the keypoints of a
  generated data set's labels;
- ``pnp``: the pose in the camera frame from the 2D keypoints and the 3D box with the frame's K
  (``cv2.solvePnP``), its reprojection error as confidence; the world pose through the camera's
  calibrated pose; the (x, y) on the table by cutting the centroid's ray with the plane of its height;
- ``calibration_error``: the camera pose a user would have, the true one plus a calibration error;
- ``metrics``: translation and rotation errors, ADD, ADD-S and their accuracy at 10 % of the diameter,
  ADD AUC up to 10 cm, each with a bootstrap interval.

Everything here is numpy and OpenCV (no torch). Units: metres, degrees where named, pixels with the
origin at the top-left corner of the top-left pixel (pixel (u, v) spans [u, u + 1) x [v, v + 1)), the
camera frame OpenCV's (x right, y down, z forward), poses 4x4 homogeneous transforms.
"""
