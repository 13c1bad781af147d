"""The geometric view of a trained run: lesion studies (Veit et al. 2016), loss landscapes
and Hessian eigenvalues (Li et al. 2018). Qt-free; every study runs in the calling thread,
reports progress through a callback and stops when its cancel check returns True."""
