//! Sample message templates (通知模板): the notices a Fujian mountain
//! township sends every season, written with the Chinese forms of the
//! variables (〔姓名〕〔村〕…). Marked sample and named "（示例）".

use super::DemoError;
use crate::auth::Actor;
use crate::notify::Channel;
use crate::notify::intake::library::{self, Category, TemplateInput};
use crate::store::Db;

/// (name, category, title, body, also by e-mail).
const TEMPLATES: &[(&str, Category, &str, &str, bool)] = &[
    (
        "台风来临前转移通知",
        Category::Flood,
        "〔等级〕台风防御转移通知",
        "〔姓名〕：受台风影响，〔村〕将出现强降雨和大风。请立即组织危险区、地质灾害隐患点、危房和低洼地群众转移到避灾点，做到不漏一户、不落一人，转移情况及时报乡应急办。请于〔截止时间〕前确认：〔链接〕",
        false,
    ),
    (
        "山洪灾害预警",
        Category::Flood,
        "山洪灾害〔等级〕预警",
        "〔姓名〕：〔村〕上游出现短时强降雨，山洪灾害风险高。请监测员加密巡查溪沟、山塘水位，预警员做好鸣锣示警准备，沿溪群众准备转移。请于〔截止时间〕前回复。",
        false,
    ),
    (
        "地质灾害隐患点巡查提醒",
        Category::Flood,
        "地质灾害隐患点巡查提醒",
        "〔姓名〕：连日降雨，〔村〕地质灾害隐患点和切坡建房户风险上升。请立即开展巡查，发现裂缝、滑塌、渗水等险情立即组织人员撤离并报告乡应急办。",
        false,
    ),
    (
        "汛期值班提醒",
        Category::Flood,
        "汛期24小时值班提醒",
        "〔姓名〕：当前已进入汛期，请〔村〕落实24小时值班和领导带班制度，保持通讯畅通，不得擅离岗位。险情灾情第一时间报告〔单位〕。",
        true,
    ),
    (
        "森林防火戒严期提醒",
        Category::ForestFire,
        "森林防火戒严期提醒",
        "〔姓名〕：现已进入森林防火戒严期，〔村〕严禁野外用火，严禁上坟烧纸、燃放烟花爆竹、烧田埂草。请护林员加强巡山，在林区路口设卡劝导，发现火情立即报告。",
        false,
    ),
    (
        "清明节森林防火提醒",
        Category::ForestFire,
        "清明祭扫森林防火提醒",
        "〔姓名〕：清明祭扫高峰将至，请〔村〕在主要墓区、林区入口安排人员值守，倡导文明祭扫、鲜花祭扫，发现野外用火立即制止。请于〔截止时间〕前确认。",
        false,
    ),
    (
        "烟花爆竹安全检查通知",
        Category::Hazchem,
        "烟花爆竹经营安全检查通知",
        "〔姓名〕：春节前将对辖区烟花爆竹零售点开展安全检查，重点查看许可证、限量存放、防火间距和消防器材。请〔村〕通知经营户做好自查，配合检查。",
        true,
    ),
    (
        "危化品企业汛前检查通知",
        Category::Hazchem,
        "危险化学品企业汛前安全检查通知",
        "〔姓名〕：汛期将至，请做好储存场所防雨、防潮、防雷检查，遇水反应物品不得存放在低洼处，应急物资到位，24小时值班电话保持畅通。检查情况报〔单位〕。",
        true,
    ),
    (
        "防汛转移演练通知",
        Category::Drill,
        "防汛防台转移演练通知",
        "〔姓名〕：乡里将组织防汛防台群众转移演练，请〔村〕按预案组织危险区群众有序转移到避灾点，村干部、网格员、监测员按职责到位。请于〔截止时间〕前确认收到。",
        false,
    ),
    (
        "应急叫应测试",
        Category::Drill,
        "应急叫应测试",
        "〔姓名〕：这是应急通讯叫应测试，请在〔截止时间〕前点击〔链接〕或回复1确认收到。谢谢配合。",
        false,
    ),
    (
        "预警解除通知",
        Category::Other,
        "预警解除通知",
        "〔姓名〕：〔标题〕。经研判，当前险情已解除，〔村〕可组织转移群众有序返回，返回前请先检查房屋安全，仍存隐患的不得返回。",
        false,
    ),
];

pub(super) async fn load(db: &Db, actor: &Actor, tz: chrono_tz::Tz) -> Result<(), DemoError> {
    for (name, category, title, body, email) in TEMPLATES {
        let mut channels = vec![Channel::Sms];
        if *email {
            channels.push(Channel::Email);
        }
        let input = TemplateInput {
            name: format!("{name}（示例）"),
            category: *category,
            title: (*title).to_string(),
            body: (*body).to_string(),
            channels,
            version: None,
        };
        library::create(db, actor, &input, true, tz).await?;
    }
    Ok(())
}
