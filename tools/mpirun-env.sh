# Sourced by the scripts: lets Open MPI run as root in containers and with more
# ranks than cores (CI machines), and keeps BLAS single-threaded per rank.
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# Single-machine runs (demo, tests): shared memory only. UCX probing adds about
# 0.3 s to every start; on a cluster, leave the PML to the site's defaults.
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1} OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
export OPENBLAS_NUM_THREADS=1
