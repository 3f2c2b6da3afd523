//! `prism._core`: the Python face of the engine. It only converts values and
//! manages the GIL; all behaviour lives in `prism-engine`.

mod bridge;
mod convert;
mod microbench;
mod proxy;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<bridge::Bridge>()?;
    m.add_class::<proxy::Proxy>()?;
    m.add_function(wrap_pyfunction!(microbench::bridge_microbench, m)?)?;
    m.add_function(wrap_pyfunction!(microbench::attach_microbench, m)?)?;
    Ok(())
}
